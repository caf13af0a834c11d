"""Legacy binary office files (.doc, .ppt) and OpenDocument slides, through LibreOffice.

No maintained Python library reads Word 97 or PowerPoint 97 files; LibreOffice does. Each
conversion runs `soffice --headless` with a private, throwaway user profile: two conversions
sharing the default profile (two parse workers, or a desktop LibreOffice the user has open)
lock each other out, and unstructured's own converter retries blindly when that happens.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from ingest.elements import ParsedFile
from ingest.errors import CorruptDocument, MissingTool

INSTALL_HINT = (
    "install LibreOffice (Debian/Ubuntu: apt-get install libreoffice-writer-nogui "
    "libreoffice-impress-nogui; macOS: brew install --cask libreoffice)"
)


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def read_converted(
    path: Path,
    target: str,
    timeout_s: float,
    read: Callable[[Path], ParsedFile],
) -> ParsedFile:
    """Convert `path` to the `target` extension in a private folder and read the copy."""
    program = soffice()
    if program is None:
        raise MissingTool(f"reading {path.suffix} files needs LibreOffice: {INSTALL_HINT}")
    with tempfile.TemporaryDirectory(prefix="localrag-convert-") as work:
        folder = Path(work)
        command = [
            program,
            "--headless",
            "--norestore",
            "--nolockcheck",
            f"-env:UserInstallation={(folder / 'profile').as_uri()}",
            "--convert-to",
            target,
            "--outdir",
            str(folder),
            str(path),
        ]
        try:
            subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise CorruptDocument(
                f"LibreOffice did not convert it within {timeout_s:.0f} s"
            ) from exc
        converted = folder / f"{path.stem}.{target}"
        if not converted.is_file() or converted.stat().st_size == 0:
            raise CorruptDocument(
                f"LibreOffice could not read it as {path.suffix}: damaged or not that format"
            )
        return read(converted)
