"""app.py's handlers on their cold path: each imports what it uses, nothing more (ARCHITECTURE,
"Cold start"). Each import runs in a fresh interpreter, as a Lambda container's first does."""

import json
import os
import subprocess
import sys

from tests import ROOT

PROBE = """
import json, sys
import app
{imports}
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(imports: str = "") -> set[str]:
    """The modules loaded after importing app, then running imports."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(imports=imports)],
        cwd=ROOT / "chalice_app",
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "chalice_app")])},
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(done.stdout))


def test_importing_app_loads_no_chalicelib_pydantic_powertools_or_boto3() -> None:
    modules = _modules_after()
    assert "app" in modules
    assert not {"pydantic", "aws_lambda_powertools", "boto3"} & modules
    assert not [name for name in modules if name.startswith("chalicelib")]


def test_the_order_api_never_loads_the_batch_utilities() -> None:
    modules = _modules_after("from chalicelib import orders_api")
    assert "aws_lambda_powertools.utilities.batch" not in modules
    assert "chalicelib.consumers" not in modules


def test_the_consumers_load_the_batch_utilities_without_powertools_parser_models() -> None:
    # Powertools imports its parser's models (type hints only) if pydantic came first.
    modules = _modules_after("from chalicelib import consumers")
    assert "aws_lambda_powertools.utilities.batch" in modules
    assert "pydantic" in modules
    assert "aws_lambda_powertools.utilities.parser" not in modules
