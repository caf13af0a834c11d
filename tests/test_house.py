"""The house rules a newcomer relies on: imports flow one way (api -> rag -> {ingest, index}),
and a missing optional package is one typed error that names what to install."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from litestar.testing import TestClient

from api.app import create_app
from ingest.embed import Embedder
from rag import RAG, MissingDependency, Settings
from rag.llm.factory import make_generator

ROOT = Path(__file__).resolve().parents[1]
# Which top-level packages each package may import from this project.
ALLOWED = {
    "api": {"api", "rag"},
    "rag": {"rag", "ingest", "index"},
    "ingest": {"ingest"},
    "index": {"index"},
}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(ALLOWED)


def test_imports_flow_one_way() -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {sorted(bad)}"
        for package, allowed in ALLOWED.items()
        for path in sorted((ROOT / package).rglob("*.py"))
        if (bad := _imported_packages(path) - allowed)
    ]
    assert wrong == []


def test_the_rule_checker_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text("from rag.core import RAG\nimport index.store\nfrom . import x\n")
    assert _imported_packages(module) == {"rag", "index"}


def test_a_hidden_llama_cpp_is_one_typed_error_naming_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # As txtai's optional-dependency tests do: the import of the hidden package fails.
    for name in [m for m in sys.modules if m == "llama_cpp" or m.startswith("llama_cpp.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    generator = make_generator(Settings(home=tmp_path, llm_backend="llama-cpp"))
    with pytest.raises(MissingDependency, match="needs llama-cpp-python, which is not installed"):
        generator.warm_up()


def test_a_hidden_optional_package_reaches_http_clients_as_503(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    settings: Settings,
    embedder: Embedder,
) -> None:
    model_folder = tmp_path / "model"
    model_folder.mkdir()
    chosen = settings.model_copy(
        update={"llm_backend": "transformers", "llm_model": str(model_folder)}
    )
    rag = RAG(settings=chosen, embedder=embedder)
    (tmp_path / "note.md").write_text("The pump is serviced every 2,000 hours.\n")
    rag.ingest([tmp_path / "note.md"])
    # Hidden only now: the embedding model (sentence-transformers) is loaded already.
    monkeypatch.setitem(sys.modules, "transformers", None)
    with TestClient(app=create_app(rag=rag)) as client:
        reply = client.post("/v1/ask", json={"question": "How often is the pump serviced?"})
    assert reply.status_code == 503
    assert "transformers" in reply.json()["detail"]
    assert "pip install" in reply.json()["detail"]
