"""Where uploaded files are kept: one folder per collection, names that cannot escape it."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath, PureWindowsPath

from rag.errors import InvalidRequest

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]")


def safe_filename(name: str | None) -> str:
    """The last path component of a client's file name, with odd characters replaced.

    >>> safe_filename("../../etc/passwd"), safe_filename("C:\\\\docs\\\\Q1 report.pdf")
    ('passwd', 'Q1 report.pdf')
    """
    base = PureWindowsPath(PurePosixPath(name or "").name).name
    cleaned = _UNSAFE.sub("_", base).strip(" .")
    if not cleaned:
        raise InvalidRequest(f"upload has no usable file name ({name!r})")
    return cleaned[:200]


def upload_path(home: Path, collection: str, filename: str | None) -> Path:
    folder = (home / "uploads" / collection).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    target = (folder / safe_filename(filename)).resolve()
    if target.parent != folder:
        raise InvalidRequest(f"upload file name {filename!r} is not allowed")
    return target
