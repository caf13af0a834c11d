"""One way to open SQLite and one way to write to it from several threads.

Every database this product keeps (a collection's chunk store, the API's job store) is opened by
`connect`: autocommit mode so transactions are explicit, WAL so readers never wait for the
writer, foreign keys on. Writes go through `immediate_transaction`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection shared by threads (callers hold their own lock around it).

    `read_only` opens an existing file without creating it or taking any write lock.
    """
    if read_only:
        return sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


@contextmanager
def immediate_transaction(
    db: sqlite3.Connection, lock: AbstractContextManager[object]
) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes SQLite's write lock at once and rolls back on any error.

    `db` must be in autocommit mode (`isolation_level=None`, as `connect` opens it), so the
    transaction is ours.
    """
    with lock:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
