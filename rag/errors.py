"""The errors a caller of the library can act on. The CLI and the API each map them in one place."""


class RagError(Exception):
    """Root of every error this product raises on purpose; the message says what to do."""


class InvalidRequest(RagError):
    """The caller asked for something malformed: an empty question, a bad collection name, k < 1."""


class CollectionNotFound(RagError):
    """The collection does not exist."""


class EmptyCollection(RagError):
    """The collection holds no documents yet, so there is nothing to search."""


class DocumentNotFound(RagError):
    """No document with that id in the collection."""


class ModelNotFound(RagError):
    """A configured model (embedding or LLM) could not be found or loaded."""


class CollectionBusy(RagError):
    """Another process is writing to the collection."""


class LLMServerError(RagError):
    """The OpenAI-compatible model server refused or failed a request."""


class UnsafeModelFile(ModelNotFound):
    """A pickle-based checkpoint was found and pickles were not allowed."""


class MissingDependency(RagError):
    """An optional package a chosen feature needs is not installed; the message names the
    extra (or package) to install."""

    def __init__(self, package: str, feature: str, install: str) -> None:
        super().__init__(f"{feature} needs {package}, which is not installed: {install}")
        self.package = package
