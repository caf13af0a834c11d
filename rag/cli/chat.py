"""`rag chat`: questions with follow-ups, each answered with the conversation so far."""

from __future__ import annotations

import sys
from typing import Literal, cast

import click

from rag.answer.conversation import MAX_TURNS
from rag.cli.output import (
    answer_mode_option,
    collection_option,
    emit_json,
    engine,
    json_option,
    k_option,
    user_errors,
)
from rag.cli.questions import show_answer
from rag.errors import InvalidRequest
from rag.prompts.chat_formats import Message

_HELP = (
    "Ask away; follow-ups may say 'it' or 'and last year?'. /reset forgets, /exit or Ctrl-D ends."
)


@click.command()
@k_option
@collection_option
@answer_mode_option
@json_option
@click.pass_context
def chat(
    ctx: click.Context, k: int | None, collection: str | None, mode: str | None, as_json: bool
) -> None:
    """Ask questions one after another; each is answered with the conversation before it, so a
    follow-up finds what it refers to. Questions come from the terminal or, one per line, from
    standard input (--json: one answer object per line)."""
    chosen = cast(Literal["generative", "extractive"] | None, mode)
    interactive = sys.stdin.isatty()
    if interactive and not as_json:
        click.echo(_HELP)
    history: list[Message] = []
    while True:
        line = _read(interactive and not as_json)
        if line is None or line.strip() in ("/exit", "/quit"):
            return
        question = line.strip()
        if not question:
            continue
        if question == "/reset":
            history = []
            click.echo("(conversation forgotten)", err=True)
            continue
        with user_errors():  # an unknown collection or a failed model ends the chat
            try:
                stream = engine(ctx).stream(question, k, collection, mode=chosen, history=history)
                answer = stream.result() if as_json else show_answer(stream)
            except InvalidRequest as exc:  # a bad question ends that question only
                click.echo(f"error: {exc}", err=True)
                continue
        if as_json:
            emit_json(answer.to_dict())
        asked: Message = {"role": "user", "content": question}
        answered: Message = {"role": "assistant", "content": answer.answer}
        history = [*history, asked, answered][-MAX_TURNS:]


def _read(prompt: bool) -> str | None:
    """The next line, or None at the end of input."""
    if prompt:
        try:
            return str(click.prompt("you", prompt_suffix="> ", default="", show_default=False))
        except (EOFError, click.Abort):
            return None
    line = sys.stdin.readline()
    return line if line else None
