"""User-defined prompt formats, read from a TOML file so a new fine-tune needs no code change.

    [formats.my-finetune]
    system = "<|sys|>{content}<|end|>"
    user = "<|usr|>{content}<|end|>"
    assistant = "<|bot|>{content}<|end|>"
    generation_prompt = "<|bot|>"
    stop = ["<|end|>"]
    match = ["my-finetune"]     # optional: GGUF name/architecture substrings that select it

Keys other than `match` are TurnFormat's fields; `system` may be omitted for models without a
system role (the system text then leads the first user turn).
"""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

from rag.errors import InvalidRequest
from rag.prompts.chat_formats import BUILTIN_FORMATS, FormatRegistry, TurnFormat

_REQUIRED = ("user", "assistant", "generation_prompt", "stop")
_ALLOWED = {f.name for f in fields(TurnFormat)} - {"name"}


def load_format_registry(path: Path | None) -> FormatRegistry:
    """The built-in formats, extended by the file at `path` when one is configured."""
    if path is None:
        return BUILTIN_FORMATS
    try:
        data = tomllib.loads(path.expanduser().read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidRequest(f"prompt formats file not found: {path}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidRequest(f"cannot read prompt formats file {path}: {exc}") from exc
    tables = data.get("formats")
    if not isinstance(tables, dict) or not tables:
        raise InvalidRequest(f"{path} defines no formats: add a [formats.NAME] table")
    formats: dict[str, TurnFormat] = {}
    hints: list[tuple[str, str]] = []
    for name, table in tables.items():
        formats[name] = _turn_format(path, name, table)
        hints.extend((str(hint), name) for hint in table.get("match", []))
    return BUILTIN_FORMATS.extended(formats, hints)


def _turn_format(path: Path, name: str, table: Any) -> TurnFormat:
    where = f"{path} [formats.{name}]"
    if not isinstance(table, dict):
        raise InvalidRequest(f"{where} must be a table")
    missing = [key for key in _REQUIRED if key not in table]
    if missing:
        raise InvalidRequest(f"{where} is missing {', '.join(missing)}")
    unknown = sorted(set(table) - _ALLOWED - {"match"})
    if unknown:
        raise InvalidRequest(
            f"{where} has unknown keys {', '.join(unknown)}; allowed: {', '.join(sorted(_ALLOWED))}"
        )
    values = {key: value for key, value in table.items() if key != "match"}
    stop = values.get("stop")
    if not isinstance(stop, list) or not stop or not all(isinstance(s, str) and s for s in stop):
        raise InvalidRequest(f"{where}: stop must be a non-empty list of strings")
    values["stop"] = tuple(stop)
    for key in ("user", "assistant", "system"):
        if key in values and values[key] and "{content}" not in values[key]:
            raise InvalidRequest(f"{where}: {key} must contain {{content}}")
    return TurnFormat(name=name, **values)
