"""Published shards are served from memory-mapped FAISS files, read into memory only when a
write needs them (real FAISS, SQLite, the bundled embedder; shards written without Ray)."""

from __future__ import annotations

from pathlib import Path

from ingest.embed import Embedder
from rag import RAG, Settings
from rag.shards.layout import read_manifest, shard_folder


def _mapped_files() -> set[str]:
    """Files this process has memory-mapped, from the kernel's own list."""
    with open("/proc/self/maps", encoding="utf-8") as maps:
        return {line.split(maxsplit=5)[5].strip() for line in maps if len(line.split()) >= 6}


def _paths(rag: RAG, query: str) -> list[str]:
    return [Path(p.path).name for p in rag.search(query, 6, "zoo", mode="dense")]


def test_shards_are_searched_mapped_and_changed_in_memory(
    tmp_path: Path, embedder: Embedder
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    animals = ["aardvark", "bonobo", "capybara", "dugong", "echidna", "fossa"]
    for animal in animals:
        (docs / f"{animal}.txt").write_text(f"Field notes: a {animal} was seen at dawn.")
    home = tmp_path / "home"
    with RAG(settings=Settings(home=home), embedder=embedder) as writer:
        writer.ingest([docs], "zoo", shards=2)
    manifest = read_manifest(home / "collections" / "zoo")
    assert manifest is not None
    vector_files = {
        str((shard_folder(home / "collections" / "zoo", name) / "vectors.faiss").resolve())
        for name in manifest.shards
    }

    with (
        RAG(settings=Settings(home=home), embedder=embedder) as reader,
        RAG(settings=Settings(home=home), embedder=embedder) as other,
    ):
        assert "capybara.txt" in _paths(reader, "capybara")
        assert vector_files <= _mapped_files()

        # Another process deletes in place: the reader follows on its next search.
        capybara = next(d for d in other.documents("zoo") if d.path.endswith("capybara.txt"))
        other.delete_document(capybara.id, "zoo")
        assert "capybara.txt" not in _paths(reader, "capybara")

        # The reader itself deletes: its mapped shard is read into memory first.
        dugong = next(d for d in reader.documents("zoo") if d.path.endswith("dugong.txt"))
        reader.delete_document(dugong.id, "zoo")
        remaining = _paths(reader, "animal seen at dawn")
        assert sorted(remaining) == ["aardvark.txt", "bonobo.txt", "echidna.txt", "fossa.txt"]
    # Deletes save the index when the session ends (as in one store).
    with RAG(settings=Settings(home=home), embedder=embedder) as after:
        checked = after.check("zoo")
        assert checked.consistent and (checked.documents, checked.vectors) == (4, 4)
