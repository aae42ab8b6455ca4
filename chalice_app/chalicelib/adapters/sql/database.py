"""The billing database a URL names: the runner its SQL goes through."""

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3

from chalicelib.adapters import CLIENT_CONFIG
from chalicelib.adapters.sql.data_api import DataApiRunner
from chalicelib.adapters.sql.db_api import DbApiRunner
from chalicelib.adapters.sql.runner import SqlRunner
from chalicelib.settings import SettingsError


def database_from_url(
    url: str,
    session: boto3.session.Session | None = None,
    client: Callable[[str], Any] | None = None,
) -> SqlRunner:
    """The billing database behind BILLING_DATABASE_URL (ledger, rates, contacts).

    sqlite:///PATH (local default), postgresql://USER@HOST/DB, or on AWS
    rds-data:///DATABASE?cluster=CLUSTER_ARN&secret=SECRET_ARN (the RDS Data API).
    client, if given, builds the rds-data client (the services' lazy one); else session does.
    """
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return DbApiRunner.sqlite(parts.path)
    if parts.scheme in ("postgresql", "postgres"):
        return DbApiRunner.postgresql(url)
    if parts.scheme == "rds-data":
        query = parse_qs(parts.query)
        if not (parts.path.strip("/") and query.get("cluster") and query.get("secret")):
            raise SettingsError(f"{url!r} needs rds-data:///DATABASE?cluster=ARN&secret=ARN")
        if client is None:  # a database alone (deploy.migrate, provisioning, tests)
            rds_data = (session or boto3.session.Session()).client("rds-data", config=CLIENT_CONFIG)
        else:
            rds_data = client("rds-data")
        return DataApiRunner(
            rds_data,
            resource_arn=query["cluster"][0],
            secret_arn=query["secret"][0],
            database=parts.path.strip("/"),
        )
    raise SettingsError(
        f"BILLING_DATABASE_URL {url!r}: use sqlite:///PATH, postgresql://... or rds-data:///DB?..."
    )
