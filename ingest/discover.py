"""Expand the paths a user names into the files to ingest."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Yield each named file, and every file below each named folder, in a stable order.

    Hidden files and folders (names starting with '.') inside a folder are skipped: they are
    editor swap files, `.git` objects and `.DS_Store`, never documents. A hidden file named
    explicitly is still yielded. Symlinked folders are not followed, so a link loop cannot hang
    the walk.
    """
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for folder, subfolders, files in os.walk(path, followlinks=False):
            subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
            for name in sorted(files):
                if not name.startswith("."):
                    yield Path(folder) / name
