"""Vector search over chunk ids with FAISS (flat or IVF, on the GPU when one is present)."""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

# Indexes smaller than this are searched on one thread (see FaissIndex.search).
_ONE_THREAD_BELOW = 100_000


def ivf_list_count(vectors: int) -> int:
    """Inverted lists for an IVF index over `vectors` vectors (FAISS's 4*sqrt(n) rule of thumb).

    >>> ivf_list_count(200_000)
    1788
    """
    return max(1, int(4 * math.sqrt(vectors)))


class FaissIndex:
    """Inner-product FAISS search keyed by stable chunk ids.

    Two kinds: exact (`IndexIDMap2` over `IndexFlatIP`), for collections up to a few hundred
    thousand chunks; and approximate (`IndexIVFFlat`, ids stored in its lists, `nprobe` lists
    searched), for larger ones. Both remove by id, so deleting a document never rebuilds.
    Searches run on a GPU copy when faiss-gpu sees a GPU; the CPU index stays the one that is
    changed and saved, and the GPU copy is refreshed after a change.
    """

    def __init__(self, index: Any, nprobe: int | None = None, mapped: bool = False) -> None:
        self._index = index
        self.mapped = mapped
        self._lock = threading.RLock()
        self._gpu_index: Any = None
        self._gpu_stale = True
        if nprobe is not None and self.is_ivf:
            self.set_nprobe(nprobe)

    @classmethod
    def create(cls, dimension: int) -> FaissIndex:
        import faiss

        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)))

    @classmethod
    def create_ivf(cls, training: np.ndarray, lists: int, nprobe: int) -> FaissIndex:
        """An empty IVF index whose coarse centroids are trained on `training` vectors."""
        import faiss

        dimension = training.shape[1]
        quantizer = faiss.IndexFlatIP(dimension)
        index = faiss.IndexIVFFlat(quantizer, dimension, lists, faiss.METRIC_INNER_PRODUCT)
        index.train(np.ascontiguousarray(training, dtype=np.float32))
        return cls(index, nprobe)

    @property
    def is_ivf(self) -> bool:
        import faiss

        return isinstance(self._index, faiss.IndexIVF)

    def set_nprobe(self, nprobe: int) -> None:
        with self._lock:
            self._index.nprobe = max(1, min(nprobe, int(self._index.nlist)))
            self._gpu_stale = True

    @classmethod
    def load(cls, path: Path, mapped: bool = False) -> FaissIndex:
        """The saved index; `mapped`: memory-mapped instead of read (flat codes and IVF lists
        alike), so it opens at once (a million IVF vectors: 0.00 s instead of 10 s) and every
        process serving it shares the same pages. A mapped index cannot be changed: load it
        again unmapped first (`Collection.writing` does)."""
        import faiss

        flags = faiss.IO_FLAG_MMAP_IFC if mapped else 0
        return cls(faiss.read_index(str(path), flags), mapped=mapped)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    def _refuse_if_mapped(self) -> None:
        # FAISS would write into (or crash on) the read-only mapping.
        if self.mapped:
            raise RuntimeError("a memory-mapped FAISS index is read-only: load it unmapped first")

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        self._refuse_if_mapped()
        with self._lock:
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32),
                np.ascontiguousarray(ids, dtype=np.int64),
            )
            self._gpu_stale = True

    def remove(self, ids: np.ndarray) -> None:
        if len(ids) == 0:
            return
        self._refuse_if_mapped()
        with self._lock:
            self._index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64))
            self._gpu_stale = True

    def search(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best k; with `allowed`, only among those ids (filtered inside FAISS, so k still come
        back when k exist)."""
        import faiss

        # A query over a small index is scanned on the calling thread: starting an OpenMP team
        # cost more than the scan (2.7 vs 0.9 ms over 12,583 vectors on 2 cores), and
        # concurrent searches already fill the cores. The setting is per thread (OpenMP) and
        # restored after, so a pool thread that later trains an IVF index still gets its team.
        team = faiss.omp_get_max_threads()
        if self._index.ntotal < _ONE_THREAD_BELOW:
            faiss.omp_set_num_threads(1)
        try:
            ids, scores = self._search(vector, k, allowed)
        finally:
            faiss.omp_set_num_threads(team)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def _search(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        with self._lock:
            if self._index.ntotal == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
                return np.zeros((1, 0), dtype=np.int64), np.zeros((1, 0), dtype=np.float32)
            query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
            k = min(k, self._index.ntotal)
            if allowed is None:
                scores, ids = self._searcher().search(query, k)
            else:
                # GPU indexes take no selector: filtered searches run on the CPU index.
                selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
                # faiss's type stubs lack these (real) keyword arguments.
                params: Any = (
                    faiss.SearchParametersIVF(sel=selector, nprobe=self._index.nprobe)  # type: ignore[call-arg]
                    if self.is_ivf
                    else faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
                )
                scores, ids = self._index.search(query, k, params=params)
        return ids, scores

    def _searcher(self) -> Any:
        import faiss

        if not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() == 0:
            return self._index
        if self._gpu_stale:
            self._gpu_index = faiss.index_cpu_to_all_gpus(self._index)
            self._gpu_stale = False
        return self._gpu_index

    def ids(self) -> set[int]:
        import faiss

        with self._lock:
            if not self.is_ivf:
                return {int(i) for i in faiss.vector_to_array(self._index.id_map)}
            lists = self._index.invlists
            found: set[int] = set()
            for list_no in range(lists.nlist):
                size = lists.list_size(list_no)
                if size:
                    pointer = lists.get_ids(list_no)
                    found.update(int(i) for i in faiss.rev_swig_ptr(pointer, size))
            return found

    def save(self, path: Path) -> None:
        """Write atomically: a crash leaves the old file or the new one, never half of one."""
        import faiss

        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with self._lock:
            faiss.write_index(self._index, str(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
