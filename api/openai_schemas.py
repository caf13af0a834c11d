"""Request and response bodies of the OpenAI-compatible endpoints (the subset clients use)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from api.schemas import SourceOut
from rag import Claim, Evidence


class ContentPart(msgspec.Struct):
    type: str
    text: str | None = None


class ChatMessage(msgspec.Struct):
    role: str
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class ChatRequest(msgspec.Struct):
    """OpenAI's chat request; unknown OpenAI fields are accepted and ignored."""

    model: str
    messages: Annotated[list[ChatMessage], msgspec.Meta(min_length=1)]
    stream: bool = False
    max_tokens: Annotated[int, msgspec.Meta(ge=1, le=8192)] | None = None
    max_completion_tokens: Annotated[int, msgspec.Meta(ge=1, le=8192)] | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    collection: str | None = None
    k: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = None


class ModelOut(msgspec.Struct):
    id: str
    object: str = "model"
    created: int = 0
    owned_by: str = "localrag"


class ModelsResponse(msgspec.Struct):
    data: list[ModelOut]
    object: str = "list"


class EmbeddingsRequest(msgspec.Struct):
    input: str | Annotated[list[str], msgspec.Meta(min_length=1, max_length=2048)]
    model: str | None = None
    # The openai SDK asks for base64 (little-endian float32) unless told otherwise.
    encoding_format: Literal["float", "base64"] | None = None


class EmbeddingOut(msgspec.Struct):
    index: int
    embedding: list[float] | str
    object: str = "embedding"


class EmbeddingsResponse(msgspec.Struct):
    data: list[EmbeddingOut]
    model: str
    usage: dict[str, int]
    object: str = "list"


class AssistantMessage(msgspec.Struct):
    content: str
    role: str = "assistant"


class ChatChoice(msgspec.Struct):
    index: int
    message: AssistantMessage
    finish_reason: str = "stop"


class ChatUsage(msgspec.Struct):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(msgspec.Struct):
    """OpenAI's chat completion, plus `sources`: the numbered passages `[n]` points at."""

    id: str
    created: int
    model: str
    choices: list[ChatChoice]
    usage: ChatUsage
    sources: list[SourceOut]
    # The checked answer's extras, as in /v1/ask: who answered, the verdict, quotes, claims.
    answer_mode: str
    grounding: str
    evidence: list[Evidence]
    claims: list[Claim]
    object: str = "chat.completion"
