"""api_door: a refusal raised by any step becomes its status and error body in one place."""

import io
import json

import pytest
from chalice.app import Response
from pydantic import ValidationError

from chalicelib.api_door import ApiError, answer, json_response, request_body
from order_contracts import FieldProblem, OrderRequest
from tests.vectors import INVALID, raw_body


def test_a_refusal_is_answered_in_the_error_shape_and_logged_once(
    log_output: io.StringIO,
) -> None:
    def refused() -> Response:
        raise ApiError(400, "invalid_order", "order_id: bad", [FieldProblem("order_id", "bad")])

    response = answer(refused, "order request refused")

    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.body) == {
        "error": "invalid_order",
        "message": "order_id: bad",
        "problems": [{"field": "order_id", "message": "bad"}],
    }
    [line] = [json.loads(line) for line in log_output.getvalue().splitlines()]
    assert (line["message"], line["error"]) == ("order request refused", "invalid_order")


def test_an_answer_that_is_not_refused_passes_through(log_output: io.StringIO) -> None:
    response = answer(lambda: json_response(201, {"ok": True}, {"Location": "/x"}), "refused")

    assert (response.status_code, json.loads(response.body)) == (201, {"ok": True})
    assert response.headers["Location"] == "/x"
    assert log_output.getvalue() == ""


def test_an_invalid_body_names_every_field_under_the_doors_code() -> None:
    with pytest.raises(ValidationError) as raised:
        OrderRequest.model_validate_json(raw_body(INVALID[0]))

    error = ApiError.invalid(raised.value, "invalid_request")

    assert (error.status, error.code) == (400, "invalid_request")
    assert [problem.field for problem in error.problems] == [INVALID[0]["field"]]
    assert error.message.startswith(f"{INVALID[0]['field']}: ")


@pytest.mark.parametrize("raw", [b"{}", "{}", None])
def test_a_body_within_the_limit_is_bytes(raw: bytes | str | None) -> None:
    assert request_body(raw, 2) == (b"" if raw is None else b"{}")


def test_a_body_past_the_limit_is_413_saying_both_sizes() -> None:
    with pytest.raises(ApiError) as raised:
        request_body("x" * 11, 10)
    assert (raised.value.status, raised.value.code, raised.value.message) == (
        413,
        "body_too_large",
        "the body is 11 bytes; the limit is 10",
    )
