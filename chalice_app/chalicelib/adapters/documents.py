"""Order documents in the S3 orders bucket, written once."""

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.failures import InvalidMessage
from chalicelib.intake import document_key
from order_contracts import OrderPlaced

_FINGERPRINT = "order-fingerprint"


class DocumentConflict(Exception):
    """A document with this order id exists and holds a different order."""


class S3OrderDocuments:
    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self.bucket = bucket

    def put_once(self, placed: OrderPlaced) -> bool:
        """Store the order's document unless it exists; True if this call created it.

        Raises DocumentConflict when the id is taken by a different order.
        """
        fingerprint = placed.order.fingerprint()
        try:
            self._s3.put_object(
                Bucket=self.bucket,
                Key=document_key(placed.order_id),
                Body=placed.to_json().encode(),
                ContentType="application/json",
                Metadata={_FINGERPRINT: fingerprint},
                # Write-once: S3 refuses the put if the key exists, atomically.
                IfNoneMatch="*",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("PreconditionFailed", "412"):
                raise
            existing = self._head(placed.order_id)
            if existing is None or existing["Metadata"].get(_FINGERPRINT) != fingerprint:
                raise DocumentConflict(placed.order_id) from error
            return False
        return True

    def fetch(self, bucket: str, key: str) -> str:
        """Return the text of a document a notification points at."""
        if bucket != self.bucket:
            raise InvalidMessage(f"notification for bucket {bucket!r}, expected {self.bucket!r}")
        try:
            response = self._s3.get_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                raise InvalidMessage(f"order document {key!r} does not exist") from error
            raise
        text: str = response["Body"].read().decode()
        return text

    def placed(self, order_id: str) -> OrderPlaced | None:
        """The OrderPlaced event the order API stored for order_id, or None if there is none."""
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=document_key(order_id))
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise
        return OrderPlaced.model_validate_json(response["Body"].read())

    def received_at(self, order_id: str) -> datetime | None:
        """When the document of order_id was stored, or None if there is none."""
        head = self._head(order_id)
        return None if head is None else head["LastModified"]

    def _head(self, order_id: str) -> dict[str, Any] | None:
        try:
            head: dict[str, Any] = self._s3.head_object(
                Bucket=self.bucket, Key=document_key(order_id)
            )
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return head
