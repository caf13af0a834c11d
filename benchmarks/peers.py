"""The peers' ingest pipelines, as their users write them, on the same files and model.

LangChain: DirectoryLoader + RecursiveCharacterTextSplitter(1000, 200) + FAISS.
LlamaIndex: SimpleDirectoryReader + SentenceSplitter(chunk_size=256) + FAISS.
Each is timed after its embedding model is loaded (load, split, embed, index), on the same
thread budget as our ingest. They are a benchmark-only extra (`pip install -e '.[peers]'`),
never a dependency of the product; without them `peers_seconds` says so and returns nothing.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

_NEEDS = {
    "langchain": ("langchain_community", "langchain_text_splitters", "langchain_huggingface"),
    "llamaindex": ("llama_index.core", "llama_index.embeddings.huggingface"),
}


def installed(peer: str) -> bool:
    """Whether the peer's packages import here (the `peers` extra)."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in _NEEDS[peer])
    except ModuleNotFoundError:
        return False


def langchain_seconds(folder: Path, model: str, batch_size: int) -> float:
    """LangChain's documented FAISS pipeline over the `.txt`/`.md` files of `folder`."""
    from langchain_community.document_loaders import DirectoryLoader, TextLoader
    from langchain_community.vectorstores import FAISS
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    embeddings = HuggingFaceEmbeddings(
        model_name=model,
        encode_kwargs={"batch_size": batch_size, "normalize_embeddings": True},
    )
    embeddings.embed_query("warm up")  # model load is not ingest work, as for ours
    started = time.perf_counter()
    loader = DirectoryLoader(str(folder), glob="*.*", loader_cls=TextLoader)
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = splitter.split_documents(loader.load())
    FAISS.from_documents(chunks, embeddings)
    return time.perf_counter() - started


def llamaindex_seconds(folder: Path, model: str, batch_size: int) -> float:
    """LlamaIndex's documented FAISS pipeline over the files of `folder`."""
    import faiss
    from llama_index.core import Settings, SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.faiss import FaissVectorStore

    Settings.llm = None  # no LLM: ingest only (and never a default that calls a hosted one)
    embed = HuggingFaceEmbedding(model_name=model, embed_batch_size=batch_size)
    embed.get_text_embedding("warm up")
    started = time.perf_counter()
    documents = SimpleDirectoryReader(str(folder)).load_data()
    nodes = SentenceSplitter(chunk_size=256).get_nodes_from_documents(documents)
    dimension = len(embed.get_text_embedding("dimension"))
    store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(dimension))
    storage = StorageContext.from_defaults(vector_store=store)
    VectorStoreIndex(nodes, storage_context=storage, embed_model=embed)
    return time.perf_counter() - started


PEERS: dict[str, Callable[[Path, str, int], float]] = {
    "langchain": langchain_seconds,
    "llamaindex": llamaindex_seconds,
}


def peers_seconds(folder: Path, model: str, batch_size: int) -> dict[str, float]:
    """Seconds per installed peer; a peer that is missing is left out with one log line."""
    # The peers' own telemetry and tracing stay off, as ours does.
    os.environ.setdefault("LANGCHAIN_TRACING_V2", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "false")
    seconds = {}
    for peer, pipeline in PEERS.items():
        if not installed(peer):
            log.warning("%s not installed: pip install -e '.[peers]' to time it", peer)
            continue
        seconds[peer] = round(pipeline(folder, model, batch_size), 2)
    return seconds
