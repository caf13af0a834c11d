"""JSON and NDJSON: each record written out as `key: value` pairs, nested keys dotted.

unstructured's JSON partitioner only reads its own element format and rejects everything
else; exports from other tools are arbitrary objects. A record becomes one paragraph, so it is
found by any of its values and cited as a whole:

    sku: GRD-8842; name: Garden Trowel; price: 12.5; in_stock: true
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.elements import Element, ParsedFile
from ingest.errors import CorruptDocument, EmptyDocument

# A string longer than this is prose: it gets a paragraph of its own, led by its key.
_LONG_TEXT = 300


def read_json(path: Path, encoding: str) -> ParsedFile:
    try:
        data = json.loads(path.read_text(encoding=encoding))
    except json.JSONDecodeError as exc:
        raise CorruptDocument(f"not valid JSON: {exc.msg} (line {exc.lineno})") from exc
    except UnicodeDecodeError as exc:
        raise CorruptDocument(f"not {encoding} text: {exc.reason}") from exc
    items = data if isinstance(data, list) else [data]
    return _parsed([element for item in items for element in record_elements(item)])


def read_ndjson(path: Path, encoding: str) -> ParsedFile:
    elements: list[Element] = []
    notes: list[str] = []
    bad = 0
    with open(path, encoding=encoding, errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                elements += record_elements(json.loads(line))
            except json.JSONDecodeError:
                bad += 1
                if bad == 1:
                    notes.append(f"line {number} is not valid JSON")
    if bad > 1:
        notes[-1] = f"{bad} lines are not valid JSON (first: {notes[-1].split()[1]})"
    if not elements and bad:
        raise CorruptDocument("no line is valid JSON: not an NDJSON file")
    parsed = _parsed(elements)
    return ParsedFile(parsed.elements, notes)


def record_elements(record: Any) -> list[Element]:
    """One record as a paragraph of `key: value` pairs (and one per long text value).

    >>> [e.text for e in record_elements({"name": "Trowel", "size": {"cm": 30}, "tags": ["x"]})]
    ['name: Trowel; size.cm: 30; tags: x']
    """
    pairs: list[str] = []
    prose: list[Element] = []
    for key, value in _flatten(record, ""):
        if len(value) > _LONG_TEXT:
            prose.append(Element(f"{key}: {value}" if key else value, "NarrativeText", None, None))
        elif value:
            pairs.append(f"{key}: {value}" if key else value)
    head = [Element("; ".join(pairs), "NarrativeText", None, None)] if pairs else []
    return head + prose


def _flatten(value: Any, prefix: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flatten(inner, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            yield prefix, ", ".join(_scalar(v) for v in value if v is not None)
        else:
            for inner in value:
                yield from _flatten(inner, prefix)
    elif value is not None:
        yield prefix, _scalar(value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return " ".join(str(value).split())


def _parsed(elements: list[Element]) -> ParsedFile:
    if not elements:
        raise EmptyDocument("no text found (no values in the JSON)")
    return ParsedFile(elements)
