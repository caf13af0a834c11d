"""Why a file could not be turned into chunks. The caller reports these per file and carries on."""


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
