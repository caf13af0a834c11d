"""Follow-up questions: the library, the prompt budget, the HTTP endpoints and `rag chat`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from api.app import create_app
from rag import RAG, InvalidRequest
from rag.answer.budget import fit_prompt
from rag.answer.conversation import checked_history, condensed_context, history_context
from rag.prompts.chat_formats import Message
from rag.prompts.rag_template import RagPrompt

COMPANIES = {
    "Norvex Robotics": ("Lyon", "Ada Moreau", 412),
    "Quillfeather Labs": ("Porto", "Bruno Silva", 157),
    "Brightwater Foods": ("Gdansk", "Clara Nowak", 938),
}
FIRST = [
    {"role": "user", "content": "Where is Quillfeather Labs headquartered?"},
    {"role": "assistant", "content": "Quillfeather Labs is headquartered in Porto [1]."},
]
FOLLOW_UP = "And what was its revenue in 2023?"


def _slug(name: str) -> str:
    return name.lower().replace(" ", "-")


@pytest.fixture
def companies(rag: RAG, tmp_path: Path) -> RAG:
    """Three companies, a profile and an annual report each, all worded alike."""
    folder = tmp_path / "companies"
    folder.mkdir()
    for name, (city, ceo, revenue) in COMPANIES.items():
        (folder / f"{_slug(name)}-profile.md").write_text(
            f"# {name}: company profile\n\n{name} is headquartered in {city}. "
            f"Its chief executive is {ceo}.\n"
        )
        (folder / f"{_slug(name)}-report.md").write_text(
            f"# {name}: annual report 2023\n\nRevenue in 2023 was {revenue} million euros. "
            "The board proposes a dividend.\n"
        )
    rag.ingest([folder])
    return rag


def _names(passages) -> list[str]:
    return [Path(p.path).name for p in passages]


def test_a_follow_up_finds_what_it_refers_to_only_with_the_conversation(companies: RAG) -> None:
    alone = companies.search(FOLLOW_UP, k=3, group_by_document=True)
    reports = [n for n in _names(alone) if n.endswith("-report.md")]
    assert len(reports) == 3  # every report says "revenue in 2023": the question cannot choose
    followed = companies.search(FOLLOW_UP, k=1, history=FIRST)
    assert _names(followed) == ["quillfeather-labs-report.md"]


def test_the_earlier_turns_go_into_the_prompt(companies: RAG) -> None:
    answer = companies.ask(FOLLOW_UP, history=FIRST)
    assert answer.context is not None
    assert (answer.context.history_used, answer.context.history_dropped) == (2, 0)
    assert Path(answer.sources[0].passage.path).name == "quillfeather-labs-report.md"


def test_the_oldest_turns_are_dropped_first_when_they_do_not_fit(companies: RAG) -> None:
    long_turns: list[Message] = []
    for i in range(12):
        long_turns.append({"role": "user", "content": f"Question {i}: " + "tell me more " * 40})
        long_turns.append({"role": "assistant", "content": f"Answer {i}: " + "details " * 40})
    passages = companies.search(FOLLOW_UP, k=2, history=FIRST)
    generator = companies.generator
    fitted = fit_prompt(generator, RagPrompt(), FOLLOW_UP, passages, 64, long_turns)
    assert 0 < fitted.history_used < len(long_turns)
    assert fitted.history_used + fitted.history_dropped == len(long_turns)
    assert fitted.prompt_tokens <= generator.context_size - 64
    kept = [m["content"] for m in fitted.messages if m["role"] in ("user", "assistant")][:-1]
    assert kept[0].startswith("Question")  # a kept history starts with a user turn
    assert kept[-1].startswith("Answer 11")  # the latest turns are the ones kept
    assert not any(c.startswith("Question 0:") for c in kept)
    assert len(fitted.passages) == len(passages)  # the passages were not given up for history


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ([{"role": "system", "content": "obey"}], "role 'system'"),
        ([{"role": "user", "content": 42}], "no text 'content'"),
        ([{"role": "user", "content": "x" * 20_001}], "limit is 20000"),
        ([{"role": "user", "content": "hi"}] * 201, "limit is 200"),
    ],
)
def test_a_bad_history_is_refused_with_what_to_fix(history, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        checked_history(history)


def test_the_cheap_reading_weighs_the_latest_user_turns_most() -> None:
    history: list[Message] = [
        {"role": "user", "content": "About Norvex?"},
        {"role": "assistant", "content": "Norvex is in Lyon."},
        {"role": "user", "content": "What about Brightwater?"},
        {"role": "assistant", "content": "Brightwater is in Gdansk."},
    ]
    context = history_context("When was it founded?", history)
    assert context.query == "When was it founded?"
    assert context.earlier() == [("What about Brightwater?", 0.5), ("About Norvex?", 0.25)]


def test_the_llm_rewrite_is_one_standalone_line_or_the_cheap_reading(companies: RAG) -> None:
    context = condensed_context(companies.generator, FOLLOW_UP, checked_history(FIRST))
    assert context.query.strip() and "\n" not in context.query
    cheap = history_context(FOLLOW_UP, checked_history(FIRST))
    assert context == cheap or (context.turns == () and context.query != FOLLOW_UP)


@pytest.fixture
def client(companies: RAG) -> Iterator[TestClient]:
    with TestClient(app=create_app(rag=companies)) as test_client:
        yield test_client


def test_chat_completions_and_ask_use_the_conversation(client: TestClient) -> None:
    messages = [
        {"role": "system", "content": "You are helpful."},
        *FIRST,
        {"role": "user", "content": FOLLOW_UP},
    ]
    completion = client.post("/v1/chat/completions", json={"model": "rag", "messages": messages})
    assert completion.status_code == 200, completion.text
    assert Path(completion.json()["sources"][0]["path"]).name == "quillfeather-labs-report.md"

    asked = client.post(
        "/v1/ask", json={"question": FOLLOW_UP, "history": FIRST, "mode": "extractive"}
    )
    assert asked.status_code == 200, asked.text
    assert Path(asked.json()["sources"][0]["path"]).name == "quillfeather-labs-report.md"
    assert "157" in asked.json()["answer"]

    bad = client.post(
        "/v1/ask", json={"question": FOLLOW_UP, "history": [{"role": "tool", "content": "x"}]}
    )
    assert bad.status_code == 400 and "role" in bad.text


def test_streamed_chat_completions_use_the_conversation_too(client: TestClient) -> None:
    messages = [*FIRST, {"role": "user", "content": FOLLOW_UP}]
    request = {"model": "rag", "messages": messages, "stream": True, "max_tokens": 24}
    with client.stream("POST", "/v1/chat/completions", json=request) as response:
        assert response.status_code == 200
        body = "".join(response.iter_text())
    chunks = [
        json.loads(line[len("data: ") :])
        for line in body.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]
    last = next(chunk for chunk in reversed(chunks) if chunk.get("sources"))
    assert Path(last["sources"][0]["path"]).name == "quillfeather-labs-report.md"


@pytest.mark.slow
def test_rag_chat_answers_a_follow_up_from_standard_input(companies: RAG) -> None:
    home = companies.settings.home
    companies.close()
    chat = subprocess.run(
        [str(Path(sys.executable).parent / "rag"), "chat", "--json", "--mode", "extractive"],
        input="Where is Quillfeather Labs headquartered?\n\n" + FOLLOW_UP + "\n/exit\n",
        capture_output=True,
        text=True,
        env={**os.environ, "RAG_HOME": str(home)},
        timeout=300,
        check=False,
    )
    assert chat.returncode == 0, chat.stderr
    first, second = [json.loads(line) for line in chat.stdout.splitlines()]
    assert "Porto" in first["answer"]
    assert Path(second["sources"][0]["path"]).name == "quillfeather-labs-report.md"
    assert "157" in second["answer"]
