"""What an order costs on AWS: billable units per order, priced from the dated price file.

Pure arithmetic, no AWS: the pipeline benchmark counts the requests, this turns them into
the units AWS bills (DynamoDB request units by item size, Lambda GB-seconds) and dollars.
"""

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRICES_FILE = Path(__file__).with_name("prices-us-east-1.json")
SES_LINE = "ses_email"

# botocore "service:Operation" -> the price line it is billed on (DynamoDB goes by units).
_LINES_BY_SERVICE = {
    "sqs": "sqs_request",
    "rds-data": "aurora_data_api_request",
    "sesv2": SES_LINE,
    "ses": SES_LINE,
}
_LINES_BY_OPERATION = {
    "sns:Publish": "sns_publish",
    "s3:PutObject": "s3_put_request",
    "s3:GetObject": "s3_get_request",
    "s3:HeadObject": "s3_get_request",
}
# Writes are billed per 1 KB of the item, strongly consistent reads per 4 KB.
WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096


@dataclass(frozen=True)
class Price:
    usd: float
    per: int
    source: str

    @property
    def per_unit(self) -> float:
        return self.usd / self.per


@dataclass(frozen=True)
class PriceSheet:
    region: str
    price_date: str
    prices: dict[str, Price]

    @classmethod
    def load(cls, path: Path = PRICES_FILE) -> "PriceSheet":
        data = json.loads(path.read_text())
        prices = {
            name: Price(usd=float(p["usd"]), per=int(p["per"]), source=str(p["source"]))
            for name, p in data["prices"].items()
        }
        return cls(region=data["region"], price_date=data["price_date"], prices=prices)


def price_line(operation: str) -> str | None:
    """The price line a botocore operation is billed on; None for DynamoDB and unpriced calls."""
    if operation in _LINES_BY_OPERATION:
        return _LINES_BY_OPERATION[operation]
    return _LINES_BY_SERVICE.get(operation.split(":", 1)[0])


def units_from_requests(requests_per_order: Mapping[str, float]) -> dict[str, float]:
    """Sum requests per order into billable units per price line (DynamoDB excluded)."""
    units: dict[str, float] = {}
    for operation, count in requests_per_order.items():
        line = price_line(operation)
        if line is not None:
            units[line] = units.get(line, 0.0) + count
    return units


def lambda_gb_seconds(seconds: float, memory_mb: int) -> float:
    """GB-seconds of one invocation; Lambda bills each one rounded up to the millisecond."""
    return math.ceil(seconds * 1000) / 1000 * memory_mb / 1024


@dataclass(frozen=True)
class DynamoItem:
    """One item a DynamoDB request touches: its table and how it is billed."""

    table: str
    kind: str  # "read", "write", "transact_read" or "transact_write"


def dynamodb_units(
    items: Iterable[DynamoItem], item_bytes: Mapping[str, int]
) -> tuple[float, float]:
    """(read units, write units) for these items, each table's items taken at item_bytes."""
    reads = writes = 0.0
    for item in items:
        size = max(item_bytes.get(item.table, 1), 1)
        double = 2 if item.kind.startswith("transact_") else 1
        if item.kind.endswith("read"):
            reads += double * math.ceil(size / READ_UNIT_BYTES)
        else:
            writes += double * math.ceil(size / WRITE_UNIT_BYTES)
    return reads, writes


def item_size(item: Mapping[str, Any]) -> int:
    """DynamoDB's size of an item in its wire form ({"name": {"S": "..."}}), in bytes.

    The rules of the DynamoDB developer guide: names and strings count their UTF-8 bytes,
    numbers about one byte per two significant digits plus one, lists and maps 3 bytes plus
    one per element.
    """
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: Mapping[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(str(data).encode())
    if kind == "N":
        digits = str(data).lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: element}) for element in data)
    if kind == "L":
        return 3 + sum(_value_size(element) + 1 for element in data)
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in data.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def cost_per_million_orders(
    units_per_order: Mapping[str, float], sheet: PriceSheet
) -> dict[str, float]:
    """USD per million orders for each price line, from units per order."""
    unknown = set(units_per_order) - set(sheet.prices)
    if unknown:
        raise KeyError(f"no price for {sorted(unknown)} in the price file")
    return {
        line: units * sheet.prices[line].per_unit * 1_000_000
        for line, units in sorted(units_per_order.items())
    }


def totals(cost_lines: Mapping[str, float]) -> tuple[float, float]:
    """(total, total without SES): email is most of the cost and optional per order."""
    total = sum(cost_lines.values())
    return total, total - cost_lines.get(SES_LINE, 0.0)
