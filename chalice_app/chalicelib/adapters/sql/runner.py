"""How the SQL adapters run their statements, whatever the engine behind them."""

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

Rows = list[tuple[Any, ...]]
Execute = Callable[[str, Mapping[str, Any]], Rows]


class SqlRunner(Protocol):
    """Runs statements written with :name parameters; dates may be passed as date objects."""

    def execute(self, statement: str, parameters: Mapping[str, Any]) -> Rows:
        """Run one statement on its own (autocommit); return its rows, if any."""
        ...

    def transaction(self) -> AbstractContextManager[Execute]:
        """Run several statements atomically: committed on success, rolled back on error."""
        ...
