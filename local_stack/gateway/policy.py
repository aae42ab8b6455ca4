"""Decide whether a caller's IAM policies allow an action on a resource.

The subset of IAM's evaluation logic the order API's policies use
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
an explicit Deny wins, else any Allow whose Action and Resource match, else an implicit deny.
Action and Resource match with IAM's wildcards, '*' (any run of characters, '/' included)
and '?' (one character); actions compare case-insensitively. A statement with a Condition,
NotAction, NotResource or a Principal is outside this subset and matches nothing, so a policy
this module does not understand can only deny, never allow.
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any

Statement = Mapping[str, Any]


def is_allowed(statements: Iterable[Statement], action: str, resource: str) -> bool:
    allowed = False
    for statement in statements:
        if not _applies(statement, action, resource):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def statements_of(document: Mapping[str, Any]) -> list[Statement]:
    """A policy document's statements (IAM allows one statement without a list)."""
    statement = document.get("Statement", [])
    return [statement] if isinstance(statement, Mapping) else list(statement)


def _applies(statement: Statement, action: str, resource: str) -> bool:
    if any(key in statement for key in ("Condition", "NotAction", "NotResource", "Principal")):
        return False
    return _any_match(statement.get("Action"), action, ignore_case=True) and _any_match(
        statement.get("Resource"), resource, ignore_case=False
    )


def _any_match(patterns: Any, value: str, ignore_case: bool) -> bool:
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list):
        return False
    flags = re.IGNORECASE if ignore_case else 0
    return any(
        re.fullmatch(_wildcard(pattern), value, flags) is not None
        for pattern in patterns
        if isinstance(pattern, str)
    )


def _wildcard(pattern: str) -> str:
    return "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
