"""The error shape both doors return for invalid input."""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import ValidationError


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


def _field_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def describe_validation_error(error: ValidationError) -> list[FieldProblem]:
    """Turn a pydantic error into one problem per field, named as a client wrote it."""
    problems = []
    for detail in error.errors(include_url=False):
        context = detail.get("ctx") or {}
        if detail["type"] == "money":
            # Cross-field money errors name their own field (e.g. lines[1].unit_price).
            problems.append(FieldProblem(context["field"], context["detail"]))
            continue
        field = _field_path(tuple(detail["loc"]))
        message = detail["msg"]
        if detail["type"] == "extra_forbidden":
            message = "is not a known field"
        elif detail["type"] == "json_invalid":
            field, message = "body", f"is not valid JSON ({context.get('error', 'parse error')})"
        problems.append(FieldProblem(field, message))
    return problems


def error_body(code: str, message: str, problems: Sequence[FieldProblem] = ()) -> dict[str, Any]:
    """Build the JSON error body: a code, a readable message and the fields at fault."""
    body: dict[str, Any] = {"error": code, "message": message}
    if problems:
        body["problems"] = [asdict(problem) for problem in problems]
    return body


def summary(problems: Sequence[FieldProblem]) -> str:
    """One message naming every bad field, for the error body's "message"."""
    return "; ".join(f"{problem.field}: {problem.message}" for problem in problems)


def validation_error_body(error: ValidationError) -> dict[str, Any]:
    """Error body for an invalid order: the message names every bad field."""
    problems = describe_validation_error(error)
    return error_body("invalid_order", summary(problems), problems)
