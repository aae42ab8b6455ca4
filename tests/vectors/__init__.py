"""Shared order vectors: the same valid and invalid bodies for every door of the system."""

import json
from pathlib import Path
from typing import Any

_VECTORS = json.loads((Path(__file__).parent / "order_requests.json").read_text())

VALID: list[dict[str, Any]] = _VECTORS["valid"]
INVALID: list[dict[str, Any]] = _VECTORS["invalid"]


def raw_body(case: dict[str, Any]) -> str:
    """Return the request body of a vector exactly as a client would send it."""
    return case["raw"] if "raw" in case else json.dumps(case["body"])


# AWS's documented SES feedback records and Lambda SNS event (sources in the file).
SES_FEEDBACK: dict[str, Any] = json.loads((Path(__file__).parent / "ses_feedback.json").read_text())
