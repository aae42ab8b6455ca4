"""Compiled bytecode in the Lambda bundle, so a cold start does not compile every module.

Lambda unpacks the bundle into /var/task, which is read-only: Python cannot write the .pyc
files it compiles there, so without them every cold start compiles, from source, every module
it imports from the bundle (ours, and pydantic's and Powertools': the wheels Chalice unpacks
carry no bytecode). The bundle therefore carries __pycache__/<module>.<tag>.pyc beside each
.py, compiled by this interpreter. A .pyc serves only the Python minor version that wrote it
(its tag, e.g. cpython-311): add_bytecode adds them only when the functions' runtime is this
interpreter's version, and a runtime that differs would simply compile as before.

The files are "unchecked-hash" .pyc (PEP 552): Python uses them without comparing the source's
timestamp, which a zip's extraction need not preserve, and the bundle never changes in place.
"""

import py_compile
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

# Where Lambda unpacks the bundle: the path tracebacks show for the bundle's modules.
TASK_ROOT = "/var/task"


def this_runtime() -> str:
    """The Lambda runtime name of this interpreter's version (python3.11, ...)."""
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def add_bytecode(bundle: Path, runtime: str) -> int:
    """Add a .pyc beside every .py of the zip at bundle; return how many were added.

    Nothing is added when runtime is not this interpreter's version (see the module's notes),
    or for a file this Python cannot compile (a package's template, say): that one module
    compiles at import, as before.
    """
    if runtime != this_runtime():
        return 0
    with tempfile.TemporaryDirectory() as directory:
        rewritten = Path(directory) / bundle.name
        with (
            zipfile.ZipFile(bundle) as source,
            zipfile.ZipFile(rewritten, "w", zipfile.ZIP_DEFLATED) as target,
        ):
            names = set(source.namelist())
            added = 0
            for info in source.infolist():
                data = source.read(info)
                target.writestr(info, data)
                cached = _cached_name(info.filename)
                if cached is None or cached in names:
                    continue
                compiled = _compile(info.filename, data, Path(directory))
                if compiled is not None:
                    target.writestr(_entry(cached, info), compiled)
                    added += 1
        rewritten.replace(bundle)
    return added


def _cached_name(name: str) -> str | None:
    """Where Python looks for the .pyc of the module at name (None: not a module)."""
    path = PurePosixPath(name)
    if path.suffix != ".py":
        return None
    tag = sys.implementation.cache_tag
    return str(path.parent / "__pycache__" / f"{path.stem}.{tag}.pyc")


def _compile(name: str, source: bytes, directory: Path) -> bytes | None:
    source_file = directory / "source.py"
    source_file.write_bytes(source)
    compiled_file = directory / "compiled.pyc"
    try:
        py_compile.compile(
            str(source_file),
            cfile=str(compiled_file),
            dfile=f"{TASK_ROOT}/{name}",
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
    except py_compile.PyCompileError:
        return None
    return compiled_file.read_bytes()


def _entry(name: str, like: zipfile.ZipInfo) -> zipfile.ZipInfo:
    """A zip entry for name with the date and permissions of the source file's entry."""
    entry = zipfile.ZipInfo(name, date_time=like.date_time)
    entry.external_attr = like.external_attr
    entry.compress_type = zipfile.ZIP_DEFLATED
    return entry
