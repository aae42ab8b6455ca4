"""deploy/bytecode.py: the Lambda bundle carries compiled bytecode its imports use as is."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from deploy.bytecode import add_bytecode, this_runtime
from deploy.package import runtimes

MODULE = "ANSWER = 'compiled'\n"


def _bundle(tmp_path: Path) -> Path:
    bundle = tmp_path / "deployment.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("chalicelib/__init__.py", "")
        archive.writestr("chalicelib/step.py", MODULE)
        archive.writestr("chalicelib/data/template.py", "{{ name }} = (\n")
        archive.writestr("chalicelib/data/rates.json", "{}")
    return bundle


def _import_from(directory: Path) -> str:
    """Import chalicelib.step as Lambda would (nothing written) after changing its source: a
    .pyc used as is (unchecked) still answers what was compiled, the source what it says now."""
    (directory / "chalicelib" / "step.py").write_text("ANSWER = 'source'\n")
    done = subprocess.run(
        [sys.executable, "-c", "from chalicelib import step; print(step.ANSWER)"],
        cwd=directory,
        env={**os.environ, "PYTHONPATH": str(directory), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_the_bundle_imports_its_compiled_bytecode(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)

    added = add_bytecode(bundle, this_runtime())

    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "task")
    tag = sys.implementation.cache_tag
    assert added == 2  # the two modules; not the file that is not Python, nor the JSON
    assert f"chalicelib/__pycache__/step.{tag}.pyc" in names
    assert "chalicelib/data/rates.json" in names
    assert _import_from(tmp_path / "task") == "compiled"


def test_another_runtime_gets_no_bytecode(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)

    assert add_bytecode(bundle, "python3.8") == 0

    with zipfile.ZipFile(bundle) as archive:
        assert not [name for name in archive.namelist() if name.endswith(".pyc")]
        archive.extractall(tmp_path / "task")
    assert _import_from(tmp_path / "task") == "source"


def test_runtimes_are_read_from_the_functions_and_globals() -> None:
    template = {
        "Globals": {"Function": {"Runtime": "python3.11"}},
        "Resources": {
            "PutOrder": {"Type": "AWS::Serverless::Function", "Properties": {}},
            "Other": {"Type": "AWS::Lambda::Function", "Properties": {"Runtime": "python3.12"}},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"Runtime": "not a function"}},
        },
    }
    assert runtimes(template) == {"python3.11", "python3.12"}
