"""Why a file could not be turned into chunks. The caller reports these per file and carries on."""


def first_line(exc: BaseException) -> str:
    """A library exception as a one-line reason: its message's first line, else its type.

    >>> first_line(ValueError("bad xref\\nat offset 12")), first_line(KeyError())
    ('bad xref', 'KeyError')
    """
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class IngestError(Exception):
    """A file that cannot be ingested; the message is the one-line reason shown to the user."""


class UnsupportedFormat(IngestError):
    """The file's extension is not one we can parse."""


class EmptyDocument(IngestError):
    """The file holds no extractable text."""


class CorruptDocument(IngestError):
    """The parser failed on the file's contents."""


class EncryptedDocument(IngestError):
    """The file is password-protected."""


class UnreadableFile(IngestError):
    """The file could not be read at all (permissions, vanished, a directory)."""


class MissingTool(IngestError):
    """Reading this format needs a program that is not installed; the message says which."""
