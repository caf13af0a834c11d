"""One way to write to SQLite from several threads: a lock, then BEGIN IMMEDIATE ... COMMIT."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager


@contextmanager
def immediate_transaction(
    db: sqlite3.Connection, lock: AbstractContextManager[object]
) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes SQLite's write lock at once and rolls back on any error.

    `db` must be in autocommit mode (`isolation_level=None`), so the transaction is ours.
    """
    with lock:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
