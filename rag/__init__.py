"""Local retrieval-augmented question answering over private documents.

from rag import RAG
rag = RAG("~/rag-data")
rag.ingest(["manuals/"])
answer = rag.ask("How do I reset the device?")
print(answer.answer, [(s.n, s.passage.path, s.passage.page) for s in answer.sources])
"""

from rag.config import Settings
from rag.core import RAG
from rag.errors import (
    CollectionNotFound,
    DocumentNotFound,
    EmptyCollection,
    InvalidRequest,
    ModelNotFound,
    RagError,
)
from rag.types import Answer, DocumentInfo, FileOutcome, FileStatus, IngestReport, Passage, Source

__all__ = [
    "RAG",
    "Answer",
    "CollectionNotFound",
    "DocumentInfo",
    "DocumentNotFound",
    "EmptyCollection",
    "FileOutcome",
    "FileStatus",
    "IngestReport",
    "InvalidRequest",
    "ModelNotFound",
    "Passage",
    "RagError",
    "Settings",
    "Source",
]
