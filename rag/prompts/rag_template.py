"""The RAG prompt (instruction, numbered passages, question) as an overridable template.

Defaults suit small instruction-tuned models. A TOML file overrides any of the parts, for all
collections (RAG_RAG_PROMPT_FILE) or for one (`prompt.toml` in the collection's folder, written
by `rag collections prompt NAME --set FILE`):

    system = "You answer from the passages only. Cite like [1]."
    passage = '<passage n="{{ n }}" source="{{ source }}">\\n{{ text }}\\n</passage>'
    question = "{{ passages }}\\n\\nQuestion: {{ question }}\\nAnswer with citations like [1]."
    not_found = "Nothing in your documents answers this."

`passage` sees n, source, text, path, page, section; `question` sees passages (all rendered
passage blocks, joined by newlines) and question. Templates are Jinja, rendered in a sandbox.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path, PurePath

from jinja2 import StrictUndefined, Template
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from rag.answer.markup import strip_markup
from rag.errors import InvalidRequest
from rag.prompts.chat_formats import Message
from rag.types import Passage

PROMPT_FILE_NAME = "prompt.toml"


def passage_label(passage: Passage) -> str:
    name = PurePath(passage.path).name
    return f"{name}, page {passage.page}" if passage.page is not None else name


@dataclass(frozen=True)
class RagPrompt:
    system: str = (
        "You answer questions about the user's documents using only the numbered passages "
        "given. Cite the passages you use with their numbers in brackets, like [1]. If the "
        "passages do not contain the answer, say that you don't know."
    )
    passage: str = '<passage n="{{ n }}" source="{{ source }}">\n{{ text }}\n</passage>'
    question: str = (
        "{{ passages }}\n\nQuestion: {{ question }}\n"
        "Answer briefly from the passages and cite them like [1]."
    )
    not_found: str = "I could not find this in your documents."

    def messages(
        self, question: str, passages: Sequence[Passage], history: Sequence[Message] = ()
    ) -> list[Message]:
        """System, the conversation's earlier turns as they were, then the passages and the
        question."""
        blocks = [
            _render(
                self.passage,
                "passage",
                n=n,
                source=passage_label(p),
                text=strip_markup(p.text),
                path=p.path,
                page=p.page,
                section=p.section,
            )
            for n, p in enumerate(passages, start=1)
        ]
        user = _render(self.question, "question", passages="\n".join(blocks), question=question)
        messages: list[Message] = []
        if self.system.strip():
            messages.append({"role": "system", "content": self.system})
        messages.extend(history)
        messages.append({"role": "user", "content": user})
        return messages

    def overridden_by(self, path: Path) -> RagPrompt:
        """This prompt with the parts that the TOML file at `path` sets replaced."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InvalidRequest(f"cannot read RAG prompt file {path}: {exc}") from exc
        allowed = {f.name for f in fields(RagPrompt)}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise InvalidRequest(
                f"{path}: unknown keys {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
            )
        if not all(isinstance(v, str) for v in data.values()):
            raise InvalidRequest(f"{path}: every value must be a string")
        updated = replace(self, **data)
        updated.messages("check", [Passage(0, "d", "doc.txt", 1, None, 0.0, "text")])
        return updated


@functools.lru_cache(maxsize=64)
def _compiled(template: str) -> Template:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)
    return env.from_string(template)


def _render(template: str, part: str, **values: object) -> str:
    try:
        return _compiled(template).render(**values)
    except TemplateError as exc:
        raise InvalidRequest(f"the RAG prompt's {part!r} template failed: {exc}") from exc


def prompt_for(base_file: Path | None, collection_folder: Path | None) -> RagPrompt:
    """Defaults, then the global file, then the collection's own file: later ones win."""
    prompt = RagPrompt()
    if base_file is not None:
        base_file = base_file.expanduser()
        if not base_file.is_file():
            raise InvalidRequest(f"RAG prompt file not found: {base_file} (RAG_RAG_PROMPT_FILE)")
        prompt = prompt.overridden_by(base_file)
    if collection_folder is not None and (collection_folder / PROMPT_FILE_NAME).is_file():
        prompt = prompt.overridden_by(collection_folder / PROMPT_FILE_NAME)
    return prompt
