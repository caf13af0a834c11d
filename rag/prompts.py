"""Prompt formats: render a chat as the exact text a given fine-tune was trained on.

A wrong format gives blank or gibberish answers, so the format is chosen in this order:
explicit config > the chat template stored in the GGUF > a match on the model's architecture or
name > a warning and ChatML.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypedDict

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
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

        def raise_exception(message: str) -> None:
            raise TemplateError(message)

        try:
            return env.from_string(self.template).render(
                messages=list(messages),
                bos_token=self.bos_token,
                eos_token=self.eos_token,
                add_generation_prompt=True,
                raise_exception=raise_exception,
            )
        except TemplateError as exc:
            raise InvalidRequest(f"the model's chat template failed to render: {exc}") from exc


@dataclass(frozen=True)
class FormatChoice:
    format: PromptFormat
    reason: Literal["config", "gguf", "architecture", "default"]


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


def named_format(name: str) -> TurnFormat:
    try:
        return NAMED_FORMATS[name]
    except KeyError:
        known = ", ".join(sorted(NAMED_FORMATS))
        raise InvalidRequest(f"unknown chat format {name!r}; known formats: {known}") from None


def choose_format(
    metadata: Mapping[str, str], bos_token: str, eos_token: str, override: str | None = None
) -> FormatChoice:
    """Pick the prompt format for a model from its GGUF metadata.

    >>> choose_format({"general.architecture": "gemma3"}, "<bos>", "<eos>").format.name
    'gemma'
    """
    if override:
        return FormatChoice(named_format(override), "config")
    template = metadata.get("tokenizer.chat_template")
    if template:
        return FormatChoice(JinjaChatTemplate(template, bos_token, eos_token), "gguf")
    described = " ".join(
        metadata.get(key, "").lower()
        for key in ("general.architecture", "general.name", "general.basename")
    )
    for hint, name in _ARCHITECTURE_HINTS:
        if hint in described:
            return FormatChoice(NAMED_FORMATS[name], "architecture")
    log.warning(
        "model %r has no chat template and no known architecture; using chatml. "
        "Set RAG_CHAT_FORMAT to one of: %s",
        metadata.get("general.name", "?"),
        ", ".join(sorted(NAMED_FORMATS)),
    )
    return FormatChoice(NAMED_FORMATS["chatml"], "default")
