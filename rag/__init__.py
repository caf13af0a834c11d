"""Local retrieval-augmented question answering over private documents.

from rag import RAG
rag = RAG("~/rag-data")
rag.ingest(["manuals/"])
answer = rag.ask("How do I reset the device?")
print(answer.answer, [(s.n, s.passage.path, s.passage.page) for s in answer.sources])

Everything a caller needs is exported here: the `RAG` facade, the types in its signatures and
results, and the errors it raises. The CLI (`rag/cli`) and the HTTP API (`api/`) use nothing else
of `index` or `ingest`.
"""

from index.filters import SearchFilter
from ingest.embed import Embedder
from rag.answer.stream import AnswerStream
from rag.collection import COLLECTION_NAME_PATTERN, CheckReport, Collection
from rag.config import Settings
from rag.core import RAG
from rag.errors import (
    CollectionBusy,
    CollectionNotFound,
    DocumentNotFound,
    EmptyCollection,
    InvalidRequest,
    LLMServerError,
    MissingDependency,
    ModelNotFound,
    RagError,
    UnsafeModelFile,
)
from rag.ingestion.committer import Progress
from rag.llm.protocol import Generator, SamplingOptions
from rag.prompts.rag_template import RagPrompt
from rag.search.options import MAX_QUERY_CHARS, SearchMode, SearchOptions
from rag.search.rerank import Reranker
from rag.types import (
    Answer,
    Claim,
    ContextReport,
    DocumentInfo,
    DroppedPassage,
    Evidence,
    FileOutcome,
    FileStatus,
    IngestReport,
    Passage,
    Source,
    Timings,
    Usage,
    Verdict,
)

__all__ = [
    "COLLECTION_NAME_PATTERN",
    "MAX_QUERY_CHARS",
    "RAG",
    "Answer",
    "AnswerStream",
    "CheckReport",
    "Claim",
    "Collection",
    "CollectionBusy",
    "CollectionNotFound",
    "ContextReport",
    "DocumentInfo",
    "DocumentNotFound",
    "DroppedPassage",
    "Embedder",
    "EmptyCollection",
    "Evidence",
    "FileOutcome",
    "FileStatus",
    "Generator",
    "IngestReport",
    "InvalidRequest",
    "LLMServerError",
    "MissingDependency",
    "ModelNotFound",
    "Passage",
    "Progress",
    "RagError",
    "RagPrompt",
    "Reranker",
    "SamplingOptions",
    "SearchFilter",
    "SearchMode",
    "SearchOptions",
    "Settings",
    "Source",
    "Timings",
    "UnsafeModelFile",
    "Usage",
    "Verdict",
]
