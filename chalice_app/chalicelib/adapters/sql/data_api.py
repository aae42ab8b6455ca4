"""Run the ledger's SQL through the RDS Data API (Aurora Serverless v2 PostgreSQL on AWS)."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

from chalicelib.adapters.sql.runner import Execute, Rows


def to_parameter(name: str, value: Any) -> dict[str, Any]:
    """One Data API SqlParameter: the value typed, with a hint where PostgreSQL needs one."""
    if value is None:
        return {"name": name, "value": {"isNull": True}}
    if isinstance(value, bool):
        return {"name": name, "value": {"booleanValue": value}}
    if isinstance(value, int):
        return {"name": name, "value": {"longValue": value}}
    if isinstance(value, Decimal):
        return {"name": name, "value": {"stringValue": str(value)}, "typeHint": "DECIMAL"}
    if isinstance(value, date):
        return {"name": name, "value": {"stringValue": value.isoformat()}, "typeHint": "DATE"}
    if isinstance(value, str):
        return {"name": name, "value": {"stringValue": value}}
    raise TypeError(f"no Data API type for {name}={value!r}")


def from_field(field: Mapping[str, Any]) -> Any:
    """One Data API Field as a Python value (DATE and NUMERIC come back as strings)."""
    if field.get("isNull"):
        return None
    for kind in ("stringValue", "longValue", "doubleValue", "booleanValue", "blobValue"):
        if kind in field:
            return field[kind]
    raise ValueError(f"unsupported Data API field {dict(field)}")


class DataApiRunner:
    def __init__(self, client: Any, *, resource_arn: str, secret_arn: str, database: str) -> None:
        self._rds_data = client
        self._target = {"resourceArn": resource_arn, "secretArn": secret_arn, "database": database}

    def execute(self, statement: str, parameters: Mapping[str, Any]) -> Rows:
        return self._execute(statement, parameters, transaction_id=None)

    @contextmanager
    def transaction(self) -> Iterator[Execute]:
        transaction_id = self._rds_data.begin_transaction(**self._target)["transactionId"]

        def execute(statement: str, parameters: Mapping[str, Any]) -> Rows:
            return self._execute(statement, parameters, transaction_id)

        try:
            yield execute
        except BaseException:
            self._rds_data.rollback_transaction(
                resourceArn=self._target["resourceArn"],
                secretArn=self._target["secretArn"],
                transactionId=transaction_id,
            )
            raise
        self._rds_data.commit_transaction(
            resourceArn=self._target["resourceArn"],
            secretArn=self._target["secretArn"],
            transactionId=transaction_id,
        )

    def _execute(
        self, statement: str, parameters: Mapping[str, Any], transaction_id: str | None
    ) -> Rows:
        request: dict[str, Any] = {
            **self._target,
            "sql": statement,
            "parameters": [to_parameter(name, value) for name, value in parameters.items()],
        }
        if transaction_id is not None:
            request["transactionId"] = transaction_id
        response = self._rds_data.execute_statement(**request)
        return [
            tuple(from_field(field) for field in record) for record in response.get("records", [])
        ]
