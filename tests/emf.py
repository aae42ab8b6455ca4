"""Embedded metric format lines: checked against the specification, read as points.

The schema (tests/vectors/emf_schema.json) is AWS's, with the specification's stated limits;
what JSON Schema cannot say (each referenced dimension and metric is a member of the root,
a string and a number or up to 100 numbers) is checked here.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA = json.loads((Path(__file__).parent / "vectors" / "emf_schema.json").read_text())
_VALIDATOR = jsonschema.Draft7Validator(SCHEMA)
MAX_VALUES = 100


def problems(line: str) -> list[str]:
    """Everything wrong with the line as an EMF document; empty if it is one."""
    try:
        document = json.loads(line)
    except ValueError as error:
        return [f"not JSON: {error}"]
    found = [f"{list(e.absolute_path)}: {e.message}" for e in _VALIDATOR.iter_errors(document)]
    if found:
        return found
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for key in dimension_set:
                if not isinstance(document.get(key), str):
                    found.append(f"dimension {key!r} is not a string member of the root")
        for definition in directive["Metrics"]:
            found.extend(_value_problems(definition["Name"], document.get(definition["Name"])))
    return found


def _value_problems(name: str, value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if not values or len(values) > MAX_VALUES:
        return [f"metric {name!r} has {len(values)} values (1 to {MAX_VALUES})"]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return [f"metric {name!r} is not a number or an array of numbers: {value!r}"]
    return []


@dataclass(frozen=True)
class Point:
    namespace: str
    name: str
    unit: str
    dimensions: tuple[tuple[str, str], ...]
    value: float


def points(line: str) -> list[Point]:
    """The data points a valid EMF line stands for (one per metric, dimension set and value)."""
    assert problems(line) == [], problems(line)
    document = json.loads(line)
    found = []
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            dimensions = tuple((key, document[key]) for key in dimension_set)
            for definition in directive["Metrics"]:
                raw = document[definition["Name"]]
                for value in raw if isinstance(raw, list) else [raw]:
                    found.append(
                        Point(
                            directive["Namespace"],
                            definition["Name"],
                            definition["Unit"],
                            dimensions,
                            float(value),
                        )
                    )
    return found


def totals(lines: list[str]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Sum of each metric per dimension values over the lines."""
    summed: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for line in lines:
        for point in points(line):
            key = (point.name, point.dimensions)
            summed[key] = summed.get(key, 0) + point.value
    return summed
