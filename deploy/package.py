"""Package the Chalice app for CloudFormation, with what `chalice package` cannot express.

Usage: python -m deploy.package OUTPUT_DIR [--stage STAGE]   (make package, make templates)

chalice_app/merge-template.json adds the rest: partial batch responses on the SQS triggers,
encrypted log groups with retention, an error alarm per function, the callers' managed
policies and the API's web ACL.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from deploy.bytecode import add_bytecode

CHALICE_DIR = Path(__file__).resolve().parent.parent / "chalice_app"
MERGE_TEMPLATE = CHALICE_DIR / "merge-template.json"


def package(output_dir: Path, stage: str = "dev") -> Path:
    """Run chalice package with the merge template, add compiled bytecode to its bundle
    (deploy/bytecode.py: a cold start then compiles nothing); return the SAM template's path."""
    environment = {
        **os.environ,
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }
    chalice = Path(sys.executable).with_name("chalice")
    subprocess.run(
        [
            str(chalice),
            "package",
            "--stage",
            stage,
            "--merge-template",
            str(MERGE_TEMPLATE),
            str(output_dir.resolve()),
        ],
        cwd=CHALICE_DIR,
        env=environment,
        check=True,
    )
    template = output_dir / "sam.json"
    for runtime in runtimes(json.loads(template.read_text())):
        add_bytecode(output_dir / "deployment.zip", runtime)
    return template


def runtimes(template: dict[str, Any]) -> set[str]:
    """The Lambda runtimes of the template's functions (Chalice sets one for all)."""
    found = {
        str(resource.get("Properties", {}).get("Runtime"))
        for resource in template.get("Resources", {}).values()
        if resource.get("Type") in ("AWS::Serverless::Function", "AWS::Lambda::Function")
    }
    globals_runtime = template.get("Globals", {}).get("Function", {}).get("Runtime")
    return {runtime for runtime in found | {str(globals_runtime)} if runtime != "None"}


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.package", description=__doc__.splitlines()[0]
    )
    parser.add_argument("output_dir", type=Path, help="where to write sam.json and deployment.zip")
    parser.add_argument("--stage", default="dev", help="Chalice stage (default: dev)")
    arguments = parser.parse_args()
    print(f"==> chalice package --stage {arguments.stage} (downloads wheels on first run)")
    template = package(arguments.output_dir, arguments.stage)
    print(f"==> wrote {template} and {template.with_name('deployment.zip')}")


if __name__ == "__main__":
    main()
