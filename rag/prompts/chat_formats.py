"""Prompt formats: render a chat as the exact text a given fine-tune was trained on.

A wrong format gives blank or gibberish answers, so the format is chosen in this order:
explicit config > the chat template stored in the GGUF > a match on the model's architecture or
name > a warning and ChatML.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypedDict

from jinja2 import Template
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from rag.errors import InvalidRequest

log = logging.getLogger(__name__)


class Message(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


class PromptFormat(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def stop(self) -> tuple[str, ...]:
        """Strings that end the model's turn; generation stops there and they are not shown."""
        ...

    def render(self, messages: Sequence[Message]) -> str:
        """The prompt text, ending where the assistant's answer begins."""
        ...


@dataclass(frozen=True)
class TurnFormat:
    """A format described as data: one template per role, with `{content}` in each.

    Formats whose models have no system role set `system` to "" and merge the system text into
    the first user turn through `system_in_user`.
    """

    name: str
    user: str
    assistant: str
    generation_prompt: str
    stop: tuple[str, ...]
    system: str = ""
    system_in_user: str = "{system}\n\n{user}"
    prefix: str = ""

    def render(self, messages: Sequence[Message]) -> str:
        parts = [self.prefix]
        pending_system = ""
        for message in messages:
            role, content = message["role"], message["content"]
            if role == "system":
                if self.system:
                    parts.append(self.system.format(content=content))
                else:
                    pending_system = content
            elif role == "user":
                if pending_system:
                    content = self.system_in_user.format(system=pending_system, user=content)
                    pending_system = ""
                parts.append(self.user.format(content=content))
            else:
                parts.append(self.assistant.format(content=content))
        parts.append(self.generation_prompt)
        return "".join(parts)


NAMED_FORMATS: dict[str, TurnFormat] = {
    f.name: f
    for f in (
        TurnFormat(
            name="chatml",
            system="<|im_start|>system\n{content}<|im_end|>\n",
            user="<|im_start|>user\n{content}<|im_end|>\n",
            assistant="<|im_start|>assistant\n{content}<|im_end|>\n",
            generation_prompt="<|im_start|>assistant\n",
            stop=("<|im_end|>", "<|im_start|>"),
        ),
        TurnFormat(
            name="gemma",
            prefix="<bos>",
            user="<start_of_turn>user\n{content}<end_of_turn>\n",
            assistant="<start_of_turn>model\n{content}<end_of_turn>\n",
            generation_prompt="<start_of_turn>model\n",
            stop=("<end_of_turn>", "<start_of_turn>"),
        ),
        TurnFormat(
            name="llama-3",
            prefix="<|begin_of_text|>",
            system="<|start_header_id|>system<|end_header_id|>\n\n{content}<|eot_id|>",
            user="<|start_header_id|>user<|end_header_id|>\n\n{content}<|eot_id|>",
            assistant="<|start_header_id|>assistant<|end_header_id|>\n\n{content}<|eot_id|>",
            generation_prompt="<|start_header_id|>assistant<|end_header_id|>\n\n",
            stop=("<|eot_id|>", "<|end_of_text|>"),
        ),
        TurnFormat(
            name="llama-2",
            prefix="<s>",
            user="[INST] {content} [/INST]",
            assistant=" {content} </s><s>",
            generation_prompt="",
            system_in_user="<<SYS>>\n{system}\n<</SYS>>\n\n{user}",
            stop=("</s>", "[INST]"),
        ),
        TurnFormat(
            name="mistral-instruct",
            prefix="<s>",
            user="[INST] {content} [/INST]",
            assistant="{content}</s>",
            generation_prompt="",
            stop=("</s>", "[INST]"),
        ),
        TurnFormat(
            name="phi-3",
            system="<|system|>\n{content}<|end|>\n",
            user="<|user|>\n{content}<|end|>\n",
            assistant="<|assistant|>\n{content}<|end|>\n",
            generation_prompt="<|assistant|>\n",
            stop=("<|end|>", "<|endoftext|>"),
        ),
        TurnFormat(
            name="zephyr",
            system="<|system|>\n{content}</s>\n",
            user="<|user|>\n{content}</s>\n",
            assistant="<|assistant|>\n{content}</s>\n",
            generation_prompt="<|assistant|>\n",
            stop=("</s>", "<|user|>"),
        ),
        TurnFormat(
            name="alpaca",
            system="{content}\n\n",
            user="### Instruction:\n{content}\n\n",
            assistant="### Response:\n{content}\n\n",
            generation_prompt="### Response:\n",
            stop=("### Instruction:", "</s>"),
        ),
        TurnFormat(
            name="vicuna",
            system="{content}\n\n",
            user="USER: {content}\n",
            assistant="ASSISTANT: {content}</s>\n",
            generation_prompt="ASSISTANT:",
            stop=("USER:", "</s>"),
        ),
        TurnFormat(
            name="orca",
            system="### System:\n{content}\n\n",
            user="### User:\n{content}\n\n",
            assistant="### Assistant:\n{content}\n\n",
            generation_prompt="### Assistant:\n",
            stop=("### User:", "</s>"),
        ),
    )
}

# End-of-turn markers that a chat template may use; any that appear in a GGUF's template become
# stop sequences, next to the model's eos token.
_KNOWN_TURN_ENDS = (
    "<|im_end|>",
    "<end_of_turn>",
    "<|eot_id|>",
    "<|end|>",
    "</s>",
    "<|endoftext|>",
)


@functools.lru_cache(maxsize=16)
def _compiled_chat_template(source: str) -> Template:
    """Compiled once per template text: compiling costs milliseconds on every question."""
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(source)


@dataclass(frozen=True)
class JinjaChatTemplate:
    """A model's own Jinja chat template (from its GGUF), rendered in a sandbox."""

    template: str
    bos_token: str
    eos_token: str
    name: str = "gguf-template"

    @property
    def stop(self) -> tuple[str, ...]:
        ends = [t for t in _KNOWN_TURN_ENDS if t in self.template]
        if self.eos_token and self.eos_token not in ends:
            ends.append(self.eos_token)
        return tuple(ends)

    def render(self, messages: Sequence[Message]) -> str:
        def raise_exception(message: str) -> None:
            raise TemplateError(message)

        try:
            return _compiled_chat_template(self.template).render(
                messages=list(messages),
                bos_token=self.bos_token,
                eos_token=self.eos_token,
                add_generation_prompt=True,
                raise_exception=raise_exception,
            )
        except TemplateError as exc:
            raise InvalidRequest(f"the model's chat template failed to render: {exc}") from exc


@dataclass(frozen=True)
class FormatRegistry:
    """Named formats and the name hints that pick one for a model without a chat template.

    Built-in formats come first; a user's formats file (RAG_PROMPT_FORMATS_FILE) adds to them or
    replaces them by name, and its hints are tried before the built-in ones.
    """

    formats: Mapping[str, TurnFormat]
    hints: tuple[tuple[str, str], ...]

    def named(self, name: str) -> TurnFormat:
        try:
            return self.formats[name]
        except KeyError:
            known = ", ".join(sorted(self.formats))
            raise InvalidRequest(f"unknown chat format {name!r}; known formats: {known}") from None

    def extended(
        self, formats: Mapping[str, TurnFormat], hints: Sequence[tuple[str, str]]
    ) -> FormatRegistry:
        return FormatRegistry({**self.formats, **formats}, (*hints, *self.hints))


@dataclass(frozen=True)
class FormatChoice:
    format: PromptFormat
    reason: Literal["config", "gguf", "tokenizer", "architecture", "default"]


_ARCHITECTURE_HINTS: tuple[tuple[str, str], ...] = (
    ("gemma", "gemma"),
    ("llama-3", "llama-3"),
    ("llama3", "llama-3"),
    ("llama 3", "llama-3"),
    ("phi3", "phi-3"),
    ("phi-3", "phi-3"),
    ("qwen", "chatml"),
    ("mistral", "mistral-instruct"),
    ("zephyr", "zephyr"),
    ("vicuna", "vicuna"),
    ("orca", "orca"),
    ("alpaca", "alpaca"),
)


BUILTIN_FORMATS = FormatRegistry(NAMED_FORMATS, _ARCHITECTURE_HINTS)


def named_format(name: str) -> TurnFormat:
    return BUILTIN_FORMATS.named(name)


def choose_format(
    metadata: Mapping[str, str],
    bos_token: str,
    eos_token: str,
    override: str | None = None,
    registry: FormatRegistry = BUILTIN_FORMATS,
) -> FormatChoice:
    """Pick the prompt format for a model from its GGUF metadata.

    >>> choose_format({"general.architecture": "gemma3"}, "<bos>", "<eos>").format.name
    'gemma'
    """
    if override:
        return FormatChoice(registry.named(override), "config")
    template = metadata.get("tokenizer.chat_template")
    if template:
        return FormatChoice(JinjaChatTemplate(template, bos_token, eos_token), "gguf")
    described = " ".join(
        metadata.get(key, "").lower()
        for key in ("general.architecture", "general.name", "general.basename")
    )
    for hint, name in registry.hints:
        if hint.lower() in described:
            return FormatChoice(registry.named(name), "architecture")
    log.warning(
        "model %r has no chat template and no known architecture; using chatml. "
        "Set RAG_CHAT_FORMAT to one of: %s",
        metadata.get("general.name", "?"),
        ", ".join(sorted(registry.formats)),
    )
    return FormatChoice(registry.named("chatml"), "default")


# Markers that start or end a turn in some format. Text from documents or users that contains
# one would, once tokenized with special tokens enabled, become a real control token and let a
# document end the prompt's turn; so such text gets a word joiner after its first character.
CONTROL_MARKERS = (
    *_KNOWN_TURN_ENDS,
    "<|im_start|>",
    "<start_of_turn>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|begin_of_text|>",
    "<bos>",
    "<eos>",
    "<s>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "[INST]",
    "[/INST]",
    "<<SYS>>",
)
_WORD_JOINER = "\u2060"


def neutralize_markers(text: str, extra: Sequence[str] = ()) -> str:
    """Text that cannot be read as a chat-template control token.

    >>> neutralize_markers("a <|im_end|> b") == "a <\u2060|im_end|> b"
    True
    """
    for marker in (*CONTROL_MARKERS, *extra):
        if len(marker) > 1 and marker in text:
            text = text.replace(marker, marker[0] + _WORD_JOINER + marker[1:])
    return text


def neutralized(messages: Sequence[Message], extra: Sequence[str] = ()) -> list[Message]:
    return [
        {"role": message["role"], "content": neutralize_markers(message["content"], extra)}
        for message in messages
    ]
