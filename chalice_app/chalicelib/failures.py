"""Failures whose message is the reason a dead-lettered message carries."""


class PermanentFailure(Exception):
    """Retrying cannot help; it is still retried like any failure, then dead-lettered."""


class InvalidMessage(PermanentFailure):
    """The message is not a shape or content the contract accepts."""


class ConflictingOrder(PermanentFailure):
    """An order with this id was already recorded with different content."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"order {order_id} was already recorded with different content")
        self.order_id = order_id
