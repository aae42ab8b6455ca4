"""What the API's routes share: JSON answers, one error type for a refusal, and the one place
a refusal becomes its HTTP status and error body (orders_api.py, catalog_api.py)."""

import json
from collections.abc import Callable, Sequence
from typing import Any

from chalice.app import Response
from pydantic import ValidationError

from chalicelib.observability import logger
from order_contracts import FieldProblem, error_body
from order_contracts.errors import describe_validation_error, summary


class ApiError(Exception):
    """The request is refused: the status and the error body (order_contracts' shape) to answer.

    Raised by the small steps of a route (the id, the body's size, its parsing, the rules of
    the door, the store); answer() turns it into the response.
    """

    def __init__(
        self, status: int, code: str, message: str, problems: Sequence[FieldProblem] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.problems = tuple(problems)

    @classmethod
    def invalid(cls, error: ValidationError, code: str) -> "ApiError":
        """400: the body breaks its contract; the message and the problems name every field."""
        problems = describe_validation_error(error)
        return cls(400, code, summary(problems), problems)

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.problems)


def answer(work: Callable[[], Response], refused: str) -> Response:
    """Run the request; a refusal is logged with the message refused and answered here."""
    try:
        return work()
    except ApiError as error:
        body = error.body()
        logger.info(refused, extra={"error": error.code, "problems": body.get("problems")})
        return json_response(error.status, body)


def request_body(raw_body: bytes | str | None, limit: int) -> bytes:
    """The body as bytes; 413 past limit bytes."""
    body = raw_body.encode() if isinstance(raw_body, str) else raw_body or b""
    if len(body) > limit:
        raise ApiError(
            413, "body_too_large", f"the body is {len(body)} bytes; the limit is {limit}"
        )
    return body


def json_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    return Response(
        body=json.dumps(body),
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
