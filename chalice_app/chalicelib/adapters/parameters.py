"""Secrets in SSM Parameter Store (SecureString, encrypted with the pipeline's KMS key)."""

from collections.abc import Callable
from typing import Any


def secure_string(client: Any, name: str) -> Callable[[], str]:
    """A reader of the parameter's decrypted value, to be called once it is needed."""

    def read() -> str:
        response = client.get_parameter(Name=name, WithDecryption=True)
        value: str = response["Parameter"]["Value"]
        return value

    return read
