"""Apply the billing database's migrations for a stage (on AWS, through the Data API).

Usage: PYTHONPATH=chalice_app python -m deploy.migrate --stage prod [--region REGION]

Reads the stage's BILLING_DATABASE_URL from .chalice/config.json (written by
deploy.stage_config) and applies the SQL migrations not yet applied; running it again applies
nothing. Rates are not loaded here: invoke refresh_exchange_rates once for today's.
"""

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import boto3

from chalicelib.adapters.sql.database import database_from_url
from chalicelib.adapters.sql.ledger import SqlLedger
from deploy.stage_config import CHALICE_DIR


def billing_database_url(chalice_dir: Path, stage: str) -> str:
    config = json.loads((chalice_dir / "config.json").read_text())
    try:
        url: str = config["stages"][stage]["environment_variables"]["BILLING_DATABASE_URL"]
    except KeyError:
        raise SystemExit(
            f"stage {stage!r} has no BILLING_DATABASE_URL: run deploy.stage_config first"
        ) from None
    return url


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stage", required=True, help="the Chalice stage, such as prod")
    parser.add_argument(
        "--region", help="region of the database (default: the AWS configuration's)"
    )
    parser.add_argument(
        "--chalice-dir", type=Path, default=CHALICE_DIR, help="the .chalice directory"
    )
    arguments = parser.parse_args(argv)
    url = billing_database_url(arguments.chalice_dir, arguments.stage)
    session = boto3.session.Session(region_name=arguments.region)
    applied = SqlLedger(database_from_url(url, session)).migrate()
    print(f"==> applied {', '.join(applied) if applied else 'nothing (up to date)'}")


if __name__ == "__main__":
    main()
