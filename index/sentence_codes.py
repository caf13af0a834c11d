"""Sentence vectors stored as int8 with one float32 scale per sentence: a quarter of float32.

A chunk has about six sentence vectors (384 float32 each: ~9 KB per chunk, ~90 GB per 10M
chunks). Each row is divided by its largest absolute value over 127 and rounded. Measured on
SciFact (default hybrid search, the ONNX collection): train nDCG@10 0.7388 float32, 0.7387
float16, 0.7386 int8; test 0.7414 float32 -> see the README for int8.
"""

from __future__ import annotations

import numpy as np


def encode(rows: np.ndarray) -> bytes:
    """int8 codes of all rows, then each row's float32 scale.

    >>> rows = np.array([[0.5, -1.0], [0.0, 0.25]], dtype=np.float32)
    >>> np.allclose(decode(encode(rows), 2), rows, atol=0.01)
    True
    """
    values = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
    scales = np.abs(values).max(axis=1) / 127.0
    safe = np.where(scales > 0, scales, 1.0).astype(np.float32)
    codes = np.clip(np.rint(values / safe[:, None]), -127, 127).astype(np.int8)
    return codes.tobytes() + safe.astype(np.float32).tobytes()


def decode(blob: bytes, dimension: int) -> np.ndarray:
    """The float32 rows `encode` stored (`dimension` values each)."""
    count = len(blob) // (dimension + 4)
    codes = np.frombuffer(blob, dtype=np.int8, count=count * dimension).reshape(count, dimension)
    scales = np.frombuffer(blob, dtype=np.float32, offset=count * dimension, count=count)
    return codes.astype(np.float32) * scales[:, None]


def best_similarities(blobs: list[bytes], dimension: int, query: np.ndarray) -> np.ndarray:
    """For each blob `encode` wrote, the largest inner product of its rows with `query`:
    all blobs scored in one matrix product (a search scores ~200 chunks' sentences).

    >>> a = encode(np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32))
    >>> b = encode(np.array([[0.6, 0.8]], dtype=np.float32))
    >>> np.round(best_similarities([a, b], 2, np.array([0.0, 1.0], dtype=np.float32)), 2)
    array([1. , 0.8], dtype=float32)
    """
    counts = [len(blob) // (dimension + 4) for blob in blobs]
    codes = b"".join(blob[: n * dimension] for blob, n in zip(blobs, counts, strict=True))
    scales = b"".join(blob[n * dimension :] for blob, n in zip(blobs, counts, strict=True))
    rows = np.frombuffer(codes, dtype=np.int8).reshape(-1, dimension).astype(np.float32)
    scores = (rows @ np.asarray(query, dtype=np.float32)) * np.frombuffer(scales, np.float32)
    starts = np.concatenate([[0], np.cumsum(counts[:-1])]).astype(np.int64)
    return np.maximum.reduceat(scores, starts).astype(np.float32)
