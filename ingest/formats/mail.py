"""Mail: .eml, Outlook .msg and .mbox mailboxes; attachments become documents of their own.

A mail's body is partitioned by unstructured, led by its subject (the section title) and a
line of who wrote to whom and when, so a search for "Jane's mail about the lease" can match.
Each attachment in a supported format is parsed like a file of its own and comes back as an
`Attachment`, cited as `mail.msg › report.pdf`; one that cannot be read is named in a note.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from ingest.elements import Attachment, Element, ParsedFile, ParseOptions
from ingest.errors import CorruptDocument, EmptyDocument, EncryptedDocument, IngestError
from ingest.formats.unstructured_reader import partition, to_elements

ParseFile = Callable[[Path, ParseOptions], ParsedFile]
"""Parses an attachment saved to disk; raises IngestError when it cannot."""

# Signatures, calendar stubs and inline logos are not documents.
_NOT_DOCUMENTS = {".p7s", ".p7m", ".asc", ".sig", ".ics", ".vcf"}
_SAFE_NAME = re.compile(r"[^\w.\- ]+")


@dataclass(frozen=True)
class _Part:
    name: str
    data: bytes


def read_eml(path: Path, options: ParseOptions, parse: ParseFile) -> ParsedFile:
    with open(path, "rb") as handle:
        message = email.message_from_binary_file(handle, policy=email.policy.default)
    return _read_message(path.read_bytes(), message, options, parse, page=None)


def read_msg(path: Path, options: ParseOptions, parse: ParseFile) -> ParsedFile:
    from oxmsg import Message

    try:
        message = Message.load(str(path))
    except Exception as exc:  # oxmsg raises plain ValueErrors for damaged compound files
        raise CorruptDocument(f"not an Outlook message: {exc}") from exc
    if "smime" in (message.message_class or "").lower():
        raise EncryptedDocument(
            "the message is S/MIME-encrypted: it cannot be read without its key"
        )
    raw = partition("msg", "partition_msg", path, process_attachments=False)
    header = _header_elements(
        message.subject,
        message.sender,
        ", ".join(str(r) for r in getattr(message, "recipients", []) or []),
        str(message.sent_date or ""),
        page=None,
    )
    section = header[0].section if header else None
    body = [_in_section(e, section) for e in to_elements(raw, tables=options.tables)]
    parts = [
        _Part(a.file_name or f"attachment-{n}", a.file_bytes or b"")
        for n, a in enumerate(message.attachments, start=1)
    ]
    return _with_attachments(header + body, parts, options, parse)


def read_mbox(path: Path, options: ParseOptions, parse: ParseFile) -> ParsedFile:
    """Every message of a mailbox; the message number stands where a page number would."""
    elements: list[Element] = []
    attachments: list[Attachment] = []
    notes: list[str] = []
    box = mailbox.mbox(str(path), create=False)
    try:
        for number, key in enumerate(box.iterkeys(), start=1):
            data = box.get_bytes(key)
            message = email.message_from_bytes(data, policy=email.policy.default)
            parsed = _read_message(data, message, options, parse, page=number)
            elements += parsed.elements
            attachments += parsed.attachments
            notes += [f"message {number}: {note}" for note in parsed.notes]
    finally:
        box.close()
    if not elements:
        raise CorruptDocument("no messages found: not an mbox mailbox, or an empty one")
    return ParsedFile(elements, notes, attachments=attachments)


def _read_message(
    data: bytes, message: Any, options: ParseOptions, parse: ParseFile, page: int | None
) -> ParsedFile:
    header = _header_elements(
        str(message.get("subject", "") or ""),
        str(message.get("from", "") or ""),
        str(message.get("to", "") or ""),
        str(message.get("date", "") or ""),
        page,
    )
    section = header[0].section if header else None
    with tempfile.TemporaryDirectory(prefix="localrag-mail-") as work:
        copy = Path(work) / "message.eml"
        copy.write_bytes(data)
        try:
            raw = partition("email", "partition_email", copy, process_attachments=False)
        except Exception as exc:  # a body unstructured cannot decode: keep what we have
            if not header:
                raise CorruptDocument(f"could not be parsed as mail: {exc}") from exc
            raw = []
    body = [_in_section(e, section, page) for e in to_elements(raw, tables=options.tables)]
    return _with_attachments(header + body, list(_attachments(message)), options, parse)


def _header_elements(
    subject: str | None, sender: str | None, to: str | None, date: str | None, page: int | None
) -> list[Element]:
    title = " ".join((subject or "").split()) or None
    facts = [
        f"{label}: {' '.join(value.split())}"
        for label, value in (("From", sender), ("To", to), ("Date", date))
        if value and value.strip()
    ]
    elements = [Element(title, "Title", page, title)] if title else []
    if facts:
        elements.append(Element("; ".join(facts), "NarrativeText", page, title))
    return elements


def _in_section(element: Element, section: str | None, page: int | None = None) -> Element:
    return Element(
        element.text,
        element.category,
        page if page is not None else element.page,
        element.section or section,
        element.lead,
    )


def _attachments(message: Any) -> Iterator[_Part]:
    if not isinstance(message, EmailMessage):
        return
    for number, part in enumerate(message.iter_attachments(), start=1):
        try:
            payload = part.get_payload(decode=True)
        except Exception:  # a malformed transfer encoding: skip that part, keep the mail
            continue
        if isinstance(payload, bytes) and payload:
            yield _Part(part.get_filename() or f"attachment-{number}", payload)


def _with_attachments(
    elements: list[Element], parts: list[_Part], options: ParseOptions, parse: ParseFile
) -> ParsedFile:
    attachments: list[Attachment] = []
    notes: list[str] = []
    if options.attachment_depth <= 0:
        return ParsedFile(elements, ["attachments nested too deep were not read"] if parts else [])
    inner = replace(options, attachment_depth=options.attachment_depth - 1)
    with tempfile.TemporaryDirectory(prefix="localrag-attachments-") as work:
        for part in parts:
            name = _SAFE_NAME.sub("_", Path(part.name).name).strip() or "attachment"
            if Path(name).suffix.lower() in _NOT_DOCUMENTS or not part.data:
                continue
            target = Path(work) / name
            target.write_bytes(part.data)
            try:
                parsed = parse(target, inner)
            except IngestError as exc:
                notes.append(f"attachment {name} not read: {exc}")
                continue
            attachments.append(Attachment(name, Path(name).suffix.lower().lstrip("."), parsed))
    if not elements and not attachments:
        raise EmptyDocument("no text found in the message or its attachments")
    return ParsedFile(elements, notes, attachments=attachments)
