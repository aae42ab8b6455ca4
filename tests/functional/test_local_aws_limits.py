"""local_stack/aws_limits.py on moto: each refusal is the one AWS documents, parsed by botocore.

Status, error code, message and, for transactions, CancellationReasons (ARCHITECTURE.md, "AWS
limits, locally", has the sources). The fake clock decides when capacity comes back.
"""

from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_stack.aws_limits import (
    MAXIMUM_SENDING_RATE_EXCEEDED,
    THROUGHPUT_EXCEEDED,
    TRANSACTION_CONFLICT,
    TRANSACTION_CONFLICT_EXCEPTION,
)
from tests.functional.conftest import LimitedAws

SENDER = "orders@shop.example.com"
MUG = {"sku": {"S": "MUG-BLUE"}}
TEA = {"sku": {"S": "TEA-EARLGREY"}}


def send(ses: Any) -> str:
    response = ses.send_email(
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": ["ada@example.com"]},
        Content={"Simple": {"Subject": {"Data": "hi"}, "Body": {"Text": {"Data": "hi"}}}},
    )
    return str(response["MessageId"])


def refusal(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response


def add_stock(key: dict[str, Any]) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": "inventory",
            "Key": key,
            "UpdateExpression": "ADD stock :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }


def test_ses_past_the_send_rate_is_429_too_many_requests(
    aws_limits: Callable[..., LimitedAws],
) -> None:
    limited = aws_limits(ses_send_rate=2)
    ses = limited.client("sesv2")
    send(ses), send(ses)  # one second's worth

    response = refusal(lambda: send(ses))

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert response["Error"]["Code"] == "TooManyRequestsException"
    assert response["Error"]["Message"] == MAXIMUM_SENDING_RATE_EXCEEDED
    limited.clock.sleep(0.5)  # one more send's worth at 2 a second
    assert send(ses)
    assert refusal(lambda: send(ses))["Error"]["Code"] == "TooManyRequestsException"
    assert limited.model.refused["TooManyRequestsException"] == 2


def test_botocore_retries_the_ses_refusal_as_throttling(
    aws_limits: Callable[..., LimitedAws],
) -> None:
    limited = aws_limits(ses_send_rate=1)
    # Standard mode, two attempts: the second waits at most a second (jitter on 1 s).
    ses = limited.session.client(
        "sesv2", config=Config(retries={"mode": "standard", "total_max_attempts": 2})
    )
    send(ses)

    response = refusal(lambda: send(ses))

    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert limited.model.refused["TooManyRequestsException"] == 2


def test_a_transaction_meeting_another_on_an_item_is_cancelled_with_transaction_conflict(
    aws_limits: Callable[..., LimitedAws],
) -> None:
    limited = aws_limits()
    dynamodb = limited.client("dynamodb")

    with limited.model.hold("inventory", TEA):
        response = refusal(
            lambda: dynamodb.transact_write_items(TransactItems=[add_stock(MUG), add_stock(TEA)])
        )

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "TransactionCanceledException"
    assert response["CancellationReasons"] == [
        {"Code": "None"},
        {"Code": "TransactionConflict", "Message": TRANSACTION_CONFLICT},
    ]
    assert "[None, TransactionConflict]" in response["Error"]["Message"]
    # Nothing was written; once the other transaction is over, the same one goes through.
    assert limited.model.writes == {}
    dynamodb.transact_write_items(TransactItems=[add_stock(MUG), add_stock(TEA)])
    assert len(limited.model.writes) == 2


def test_a_plain_write_to_an_item_in_a_transaction_is_a_transaction_conflict_exception(
    aws_limits: Callable[..., LimitedAws],
) -> None:
    limited = aws_limits()
    dynamodb = limited.client("dynamodb")

    with limited.model.hold("inventory", MUG):
        response = refusal(lambda: dynamodb.update_item(**add_stock(MUG)["Update"]))

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "TransactionConflictException"
    assert response["Error"]["Message"] == TRANSACTION_CONFLICT_EXCEPTION
    dynamodb.update_item(**add_stock(MUG)["Update"])


def test_an_item_takes_its_write_units_a_second_a_transactional_write_costing_two(
    aws_limits: Callable[..., LimitedAws],
) -> None:
    limited = aws_limits(item_write_units=4)
    dynamodb = limited.client("dynamodb")
    dynamodb.transact_write_items(TransactItems=[add_stock(MUG)])  # 2 units
    dynamodb.update_item(**add_stock(MUG)["Update"])  # 1 unit: 1 left

    cancelled = refusal(lambda: dynamodb.transact_write_items(TransactItems=[add_stock(MUG)]))
    dynamodb.update_item(**add_stock(MUG)["Update"])  # the last unit
    throttled = refusal(lambda: dynamodb.update_item(**add_stock(MUG)["Update"]))

    assert cancelled["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert cancelled["Error"]["Code"] == "TransactionCanceledException"
    assert cancelled["CancellationReasons"] == [
        {"Code": "ThrottlingError", "Message": THROUGHPUT_EXCEEDED}
    ]
    assert throttled["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert throttled["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert throttled["Error"]["Message"] == THROUGHPUT_EXCEEDED
    assert throttled["ThrottlingReasons"] == [
        {
            "reason": "TableWriteKeyRangeThroughputExceeded",
            "resource": "arn:aws:dynamodb:us-east-1:123456789012:table/inventory",
        }
    ]
    # Another item has units of its own; and the next second, this one has its own again.
    dynamodb.update_item(**add_stock(TEA)["Update"])
    limited.clock.sleep(1)
    dynamodb.transact_write_items(TransactItems=[add_stock(MUG)])


def test_a_table_takes_its_write_units_a_second(aws_limits: Callable[..., LimitedAws]) -> None:
    limited = aws_limits(table_write_units=2)
    dynamodb = limited.client("dynamodb")
    dynamodb.update_item(**add_stock(MUG)["Update"])
    dynamodb.update_item(**add_stock(TEA)["Update"])

    response = refusal(
        lambda: dynamodb.update_item(**add_stock({"sku": {"S": "DATES-1KG"}})["Update"])
    )

    assert response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert [r["reason"] for r in response["ThrottlingReasons"]] == [
        "TableWriteAccountLimitExceeded"
    ]
    limited.clock.sleep(1)
    dynamodb.update_item(**add_stock({"sku": {"S": "DATES-1KG"}})["Update"])
