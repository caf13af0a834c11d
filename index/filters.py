"""Metadata filters for search, compiled to SQL so they run inside the search, not after it.

A filtered search must still return k results when k exist; filtering a top-k list afterwards
would not. The SQL selects the allowed chunks, for FTS5 directly and for FAISS as an id selector.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_METADATA_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class SearchFilter:
    """Conditions a chunk's document must meet; all given conditions must hold.

    `path_glob` uses SQLite GLOB (`*`, `?`, `[...]`, case-sensitive) on the stored absolute path;
    `metadata` matches top-level keys of the document's metadata exactly.
    """

    document_ids: tuple[str, ...] = ()
    path_glob: str | None = None
    file_types: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.document_ids or self.path_glob or self.file_types or self.metadata)

    def to_sql(self) -> tuple[str, list[Any]]:
        """A WHERE condition over `documents d` and its parameters (never user text in SQL)."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.document_ids:
            clauses.append(f"d.id IN ({','.join('?' * len(self.document_ids))})")
            params.extend(self.document_ids)
        if self.path_glob:
            clauses.append("d.path GLOB ?")
            params.append(self.path_glob)
        if self.file_types:
            clauses.append(f"d.file_type IN ({','.join('?' * len(self.file_types))})")
            params.extend(t.lower().lstrip(".") for t in self.file_types)
        for key, value in self.metadata.items():
            if not _METADATA_KEY.match(key):
                raise ValueError(f"invalid metadata key {key!r}: letters, digits, '_', '-', '.'")
            clauses.append(f"json_extract(d.metadata, '$.\"{key}\"') = ?")
            params.append(value)
        return (" AND ".join(clauses) or "1"), params
