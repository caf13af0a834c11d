"""API keys: bearer tokens stored only as SHA-256 hashes, optionally limited to collections.

Keys are 32 random bytes, so a fast hash is enough (nothing to brute-force); the key file never
holds a usable secret. With no key configured the server is open but binds to localhost only.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from rag.errors import InvalidRequest

ALL_COLLECTIONS = "*"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    name: str
    sha256: str
    collections: tuple[str, ...] = (ALL_COLLECTIONS,)

    def allows(self, collection: str) -> bool:
        return ALL_COLLECTIONS in self.collections or collection in self.collections


class KeyRing:
    """The keys in a JSON file: `[{"name", "sha256", "collections"}]`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp = self._file_stamp()
        self._by_hash = {k.sha256: k for k in self._read()}

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def refresh(self) -> None:
        """Re-read the file when `rag keys` changed it, so a revoked key stops working at once."""
        stamp = self._file_stamp()
        if stamp != self._stamp:
            self._stamp = stamp
            self._by_hash = {k.sha256: k for k in self._read()}

    def _read(self) -> list[ApiKey]:
        if not self.path.exists():
            return []
        try:
            rows = json.loads(self.path.read_text(encoding="utf-8"))
            return [
                ApiKey(r["name"], r["sha256"], tuple(r.get("collections", [ALL_COLLECTIONS])))
                for r in rows
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidRequest(f"cannot read API keys from {self.path}: {exc}") from exc

    def __bool__(self) -> bool:
        return bool(self._by_hash)

    def keys(self) -> list[ApiKey]:
        return sorted(self._by_hash.values(), key=lambda k: k.name)

    def verify(self, token: str) -> ApiKey | None:
        return self._by_hash.get(hash_key(token))

    def add(self, name: str, collections: tuple[str, ...]) -> str:
        """Create a key; the plain key is returned once and never stored."""
        if any(k.name == name for k in self._by_hash.values()):
            raise InvalidRequest(f"an API key named {name!r} exists: delete it first")
        key = "rag_" + secrets.token_urlsafe(32)
        entry = ApiKey(name, hash_key(key), collections or (ALL_COLLECTIONS,))
        self._by_hash[entry.sha256] = entry
        self._write()
        return key

    def delete(self, name: str) -> bool:
        found = [h for h, k in self._by_hash.items() if k.name == name]
        for digest in found:
            del self._by_hash[digest]
        self._write()
        return bool(found)

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staged = self.path.with_suffix(".tmp")
        rows = [{**asdict(k), "collections": list(k.collections)} for k in self.keys()]
        staged.write_text(json.dumps(rows, indent=2), encoding="utf-8")
        os.chmod(staged, 0o600)
        staged.replace(self.path)


@dataclass(frozen=True)
class Access:
    """Who is calling: a key, or nobody when the server has no keys (localhost only)."""

    key: ApiKey | None

    def allows(self, collection: str) -> bool:
        return self.key is None or self.key.allows(collection)

    def check(self, collection: str) -> None:
        if not self.allows(collection):
            assert self.key is not None
            raise PermissionDeniedException(
                f"this API key ({self.key.name}) may not use collection {collection!r}"
            )

    def visible(self, collections: list[str]) -> list[str]:
        return [c for c in collections if self.allows(c)]


def key_guard(keys: KeyRing) -> object:
    """A litestar guard requiring `Authorization: Bearer <key>` on every non-public route."""

    def guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
        keys.refresh()
        if handler.opt.get("public") or not keys:
            connection.state.access = Access(None)
            return
        scheme, _, token = connection.headers.get("authorization", "").partition(" ")
        key = keys.verify(token.strip()) if scheme.lower() == "bearer" else None
        if key is None:
            raise NotAuthorizedException(
                "missing or unknown API key: send 'Authorization: Bearer <key>' "
                "(create one with `rag keys add NAME`)"
            )
        connection.state.access = Access(key)

    return guard
