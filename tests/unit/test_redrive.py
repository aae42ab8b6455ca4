"""ops/redrive.py (`make redrive`): on AWS with the caller's environment, or local.

Redriving on moto is in tests/functional/test_redrive.py; on the local AWS server, and what
`make redrive` runs, in tests/system/test_redrive.py.
"""

import pytest

from ops.redrive import main, sqs_client


def test_on_aws_it_uses_the_callers_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")  # AWS CLI v2 reads it before the default

    sqs = sqs_client(local=False, aws_port=4566)

    assert sqs.meta.endpoint_url == "https://sqs.eu-west-1.amazonaws.com"
    assert sqs._request_signer._credentials.access_key == "testing"  # conftest's


def test_local_never_uses_the_callers_endpoint_or_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://sqs.eu-west-1.amazonaws.com")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALLOOKINGKEY00")

    sqs = sqs_client(local=True, aws_port=4567)

    assert sqs.meta.endpoint_url == "http://127.0.0.1:4567"
    assert sqs._request_signer._credentials.access_key == "local"


def test_help_says_how_to_use_it_on_aws_and_locally(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])

    lines = capsys.readouterr().out.splitlines()
    assert "  make redrive QUEUE=order-notifications" in lines  # on AWS
    assert any(
        line.startswith("  make redrive QUEUE=order-notifications LOCAL=1") for line in lines
    )
