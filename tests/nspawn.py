"""A Debian host for converge tests: a debootstrap image, booted by systemd-nspawn.

The image is built once and cached under build/images/ (keyed by a hash of what goes in
it); each test boots a throwaway overlay of it, so the cache stays pristine. The container
lives in a network namespace the test creates, joined to the host by a veth pair on a
private /30: the host side (for moto and SSH from Ansible) and the container side are the
only addresses involved, and both disappear with the namespace.
"""

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "build" / "images"
SUITE = "bookworm"
# What a Debian 12 cloud image has that the role relies on, plus what the test needs to
# reach it: systemd as init, sshd, sudo for the admin user, python3 for Ansible's modules
# (python3-apt for ansible.builtin.apt; python3-venv and python3-packaging, which the role
# installs, for its virtualenv and ansible.builtin.pip: the container has no mirror).
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "sudo",
    "python3",
    "python3-venv",
    "python3-apt",
    "python3-packaging",
)
# The login Ansible uses, as on Debian's AMIs: a sudoer, never root over SSH.
ADMIN_USER = "admin"
Progress = Callable[[str], None]
# Debian has ip in /usr/sbin (merged /usr) or only in /bin (an older, unmerged root).
IP = "/usr/sbin/ip" if Path("/usr/sbin/ip").exists() else "/bin/ip"


def debian_mirror(sources: Path = Path("/etc/apt")) -> str:
    """The Debian mirror apt already uses here (deb822 or one-line sources)."""
    files = sorted(sources.glob("sources.list.d/*.sources")) + sorted(sources.glob("sources.list*"))
    for path in files:
        if not path.is_file():
            continue
        for uri in re.findall(r"(?:URIs:|^deb)\s+(\S+)", path.read_text(), flags=re.MULTILINE):
            if uri.rstrip("/").endswith("/debian"):
                return uri
    return "http://deb.debian.org/debian"


def image_key() -> str:
    recipe = "\n".join((SUITE, *PACKAGES, ADMIN_USER, "v1"))
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def cached_image(progress: Progress) -> Path:
    """Return the image's root directory, building it with debootstrap the first time."""
    image = IMAGES / f"{SUITE}-{image_key()}"
    if (image / "etc" / "os-release").exists():
        return image
    building = image.with_name(image.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    mirror = debian_mirror()
    progress(f"building the {SUITE} image with debootstrap from {mirror} (first run only)")
    command = [
        "/usr/sbin/debootstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        SUITE,
        str(building),
        mirror,
    ]
    started = time.monotonic()
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as debootstrap:
        assert debootstrap.stdout is not None
        # "I: <Stage> <package>" lines: report each stage and every 25th package of it.
        stage, count = "", 0
        for line in debootstrap.stdout:
            words = line.split()
            if len(words) < 2 or words[0] != "I:":
                continue
            count = count + 1 if words[1] == stage else 1
            stage = words[1]
            if count == 1 or count % 25 == 0:
                progress(f"  {time.monotonic() - started:4.0f}s {stage} ({count}) {words[-1]}")
    if debootstrap.returncode != 0:
        raise RuntimeError(f"debootstrap failed ({debootstrap.returncode}); see output above")
    _prepare(building)
    building.rename(image)
    progress(f"image ready in {time.monotonic() - started:.0f}s: {image}")
    return image


def _prepare(rootfs: Path) -> None:
    """Make the freshly bootstrapped tree look like a cloud image's first boot."""

    def chroot(*argv: str) -> None:
        subprocess.run(["/usr/sbin/chroot", str(rootfs), *argv], check=True, capture_output=True)

    chroot("useradd", "--create-home", "--shell", "/bin/bash", "--groups", "sudo", ADMIN_USER)
    sudoers = rootfs / "etc" / "sudoers.d" / ADMIN_USER
    sudoers.write_text(f"{ADMIN_USER} ALL=(ALL) NOPASSWD:ALL\n")
    sudoers.chmod(0o440)
    # systemd writes a fresh machine id at boot; an empty file marks "first boot".
    (rootfs / "etc" / "machine-id").write_text("")
    chroot("apt-get", "clean")


@dataclass(frozen=True)
class Link:
    namespace: str
    host_address: str
    guest_address: str

    @property
    def namespace_path(self) -> str:
        return f"/run/netns/{self.namespace}"


def _ip(*argv: str) -> None:
    subprocess.run([IP, *argv], check=True, capture_output=True)


@contextmanager
def network_namespace(
    name: str, host_address: str = "10.213.0.1", guest_address: str = "10.213.0.2"
) -> Iterator[Link]:
    """A namespace joined to this one by a veth pair on a private /30; removed on exit."""
    host_end, guest_end = f"{name}-h"[:15], f"{name}-g"[:15]
    _ip("netns", "add", name)
    try:
        _ip("link", "add", host_end, "type", "veth", "peer", "name", guest_end)
        _ip("link", "set", guest_end, "netns", name)
        _ip("addr", "add", f"{host_address}/30", "dev", host_end)
        _ip("link", "set", host_end, "up")
        _ip("-n", name, "addr", "add", f"{guest_address}/30", "dev", guest_end)
        _ip("-n", name, "link", "set", guest_end, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        yield Link(name, host_address, guest_address)
    finally:
        # Deleting the namespace deletes the guest end, and with it the host end of the pair.
        with suppress(subprocess.CalledProcessError):
            _ip("link", "del", host_end)
        with suppress(subprocess.CalledProcessError):
            _ip("netns", "del", name)


@contextmanager
def overlay(image: Path, scratch: Path) -> Iterator[Path]:
    """A writable root over the cached image: changes land in scratch, never in the cache."""
    upper, work, merged = scratch / "upper", scratch / "work", scratch / "rootfs"
    for directory in (upper, work, merged):
        directory.mkdir(parents=True)
    options = f"lowerdir={image},upperdir={upper},workdir={work}"
    subprocess.run(
        ["/usr/bin/mount", "-t", "overlay", "overlay", "-o", options, str(merged)],
        check=True,
        capture_output=True,
    )
    try:
        yield merged
    finally:
        subprocess.run(["/usr/bin/umount", "--lazy", str(merged)], check=False, capture_output=True)


@contextmanager
def booted(rootfs: Path, link: Link, log: Path, machine: str) -> Iterator[subprocess.Popen[bytes]]:
    """Boot the tree with systemd as PID 1 in the link's namespace; shut it down on exit."""
    with log.open("wb") as console:
        container = subprocess.Popen(
            [
                "/usr/bin/systemd-nspawn",
                f"--directory={rootfs}",
                f"--machine={machine}",
                "--boot",
                "--register=no",
                "--keep-unit",
                f"--network-namespace-path={link.namespace_path}",
                "--console=passive",
            ],
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield container
    finally:
        if container.poll() is None:
            # nspawn turns SIGTERM into an orderly shutdown of the container's systemd.
            container.send_signal(signal.SIGTERM)
            try:
                container.wait(timeout=30)
            except subprocess.TimeoutExpired:
                container.kill()
                container.wait()


def wait_for_port(
    address: str, port: int, timeout: float, process: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the container exited ({process.returncode}) before {port} opened")
        with suppress(OSError), socket.create_connection((address, port), timeout=1):
            return
        time.sleep(0.3)
    raise TimeoutError(f"{address}:{port} did not open within {timeout:.0f}s")


def stderr_progress(message: str) -> None:
    print(f"==> {message}", file=sys.__stderr__, flush=True)


def have_tools() -> list[str]:
    """The host tools the converge test needs that are missing."""
    tools = ("/usr/sbin/debootstrap", "/usr/bin/systemd-nspawn", "/usr/bin/ssh-keygen", IP)
    return [tool for tool in tools if not Path(tool).exists()]


if __name__ == "__main__":
    # Build (or find) the cached image by hand: python -m tests.nspawn
    print(cached_image(stderr_progress))
    os._exit(0)
