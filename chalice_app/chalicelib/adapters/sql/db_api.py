"""Run the ledger's SQL over DB-API: SQLite (the local default) or PostgreSQL (psycopg)."""

import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import Any

from chalicelib.adapters.sql.runner import Execute, Rows

# Statements are written with :name parameters; psycopg wants %(name)s.
_NAMED = re.compile(r"(?<![:\w]):([a-z_]+)")


class DbApiRunner:
    def __init__(self, connect: Callable[[], Any], *, pyformat: bool = False) -> None:
        self._connect = connect
        self._pyformat = pyformat

    @classmethod
    def sqlite(cls, path: str) -> "DbApiRunner":
        # A fresh connection per unit of work: sqlite3 connections are bound to their thread.
        return cls(lambda: sqlite3.connect(path, timeout=30))

    @classmethod
    def postgresql(cls, url: str) -> "DbApiRunner":
        import psycopg  # only where PostgreSQL is used; the Lambda bundle uses the Data API

        return cls(lambda: psycopg.connect(url), pyformat=True)

    def execute(self, statement: str, parameters: Mapping[str, Any]) -> Rows:
        with self.transaction() as execute:
            return execute(statement, parameters)

    @contextmanager
    def transaction(self) -> Iterator[Execute]:
        connection = self._connect()
        cursor = connection.cursor()

        def execute(statement: str, parameters: Mapping[str, Any]) -> Rows:
            if self._pyformat:
                statement = _NAMED.sub(r"%(\1)s", statement)
            cursor.execute(statement, self._adapt(parameters))
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []

        try:
            yield execute
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()

    def _adapt(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        if self._pyformat:  # psycopg sends date objects as DATE
            return dict(parameters)
        # sqlite3's implicit date adapter is deprecated: store ISO text, as the column holds.
        return {k: v.isoformat() if isinstance(v, date) else v for k, v in parameters.items()}
