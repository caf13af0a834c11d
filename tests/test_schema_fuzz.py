"""schemathesis against the served OpenAPI schema: no 5xx, every response matches the schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from litestar import Litestar
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from api.app import create_app
from ingest.embed import Embedder
from rag import RAG, Settings
from rag.llm.llama_cpp_backend import LlamaCppGenerator
from tests.documents import write_docx

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(
    tmp_path_factory: pytest.TempPathFactory,
    embedder: Embedder,
    smollm: LlamaCppGenerator,
) -> Iterator[Litestar]:
    home = tmp_path_factory.mktemp("fuzz") / "home"
    settings_ = Settings(home=home, max_answer_tokens=16, n_ctx=2048, max_upload_files=5)
    with RAG(settings=settings_, embedder=embedder, generator=smollm) as rag:
        rag.ingest([write_docx(Path(tmp_path_factory.mktemp("docs")) / "lease.docx")])
        yield create_app(rag=rag)


def test_no_server_errors_and_responses_match_the_schema(app: Litestar) -> None:
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15  # every route is in the schema and gets exercised
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=20,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def exercise(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=checks)

        exercise()
