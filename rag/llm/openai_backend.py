"""The third backend: a model already served over an OpenAI-compatible API.

llama.cpp's llama-server, Ollama, LM Studio and vLLM all speak `POST /v1/chat/completions`. The
server owns the chat template, so messages are sent as they are. Context budgeting needs the
server's real context size and token counts, which each server reports its own way; they are
asked for once and the configured limit is used (with a warning) when none answers.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx

from rag.errors import LLMServerError, ModelNotFound
from rag.llm.protocol import SamplingOptions
from rag.prompts.chat_formats import Message

log = logging.getLogger(__name__)

# Chat templates add a few tokens per message (role markers, turn ends); servers that cannot
# count tokens for us are estimated with this allowance per message and 3 characters a token.
_PER_MESSAGE_TOKENS = 8
_CHARS_PER_TOKEN = 3


class OpenAICompatibleGenerator:
    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        n_ctx_limit: int = 4096,
        timeout: float = 600.0,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._root = self._base.removesuffix("/v1")
        self._model = model
        self._n_ctx_limit = n_ctx_limit
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout, connect=5.0))
        self._lock = threading.Lock()
        self._context: int | None = None
        self._counter: Callable[[str], int | None] | None = None

    @property
    def name(self) -> str:
        return f"{self._model} at {self._base}"

    @property
    def format_name(self) -> str:
        return "server"

    def warm_up(self) -> None:
        _ = self.context_size

    def _get_json(self, method: str, url: str, **kwargs: Any) -> Any | None:
        """The JSON answer of an optional endpoint, or None when the server has no such thing."""
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.ConnectError as exc:
            raise ModelNotFound(
                f"cannot reach the LLM server at {self._base}: {exc} (is it running? check "
                "RAG_LLM_BASE_URL)"
            ) from exc
        except httpx.HTTPError:
            return None
        if response.status_code >= 400:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    @property
    def context_size(self) -> int:
        with self._lock:
            if self._context is None:
                served = self._served_context()
                if served is None:
                    log.warning(
                        "the LLM server at %s does not report its context size; assuming "
                        "RAG_N_CTX=%d (lower it if answers come back cut or refused)",
                        self._base,
                        self._n_ctx_limit,
                    )
                    served = self._n_ctx_limit
                self._context = min(served, self._n_ctx_limit)
            return self._context

    def _served_context(self) -> int | None:
        props = self._get_json("GET", f"{self._root}/props")  # llama-server
        if isinstance(props, dict):
            n_ctx = props.get("default_generation_settings", {}).get("n_ctx")
            if isinstance(n_ctx, int) and n_ctx > 0:
                return n_ctx
        models = self._get_json("GET", f"{self._base}/models")  # vLLM; llama-server's meta
        for entry in models.get("data", []) if isinstance(models, dict) else []:
            if isinstance(entry, dict) and entry.get("id") == self._model:
                for size in (entry.get("max_model_len"), (entry.get("meta") or {}).get("n_ctx")):
                    if isinstance(size, int) and size > 0:
                        return size
        shown = self._get_json("POST", f"{self._root}/api/show", json={"model": self._model})
        if isinstance(shown, dict):  # Ollama
            for key, value in (shown.get("model_info") or {}).items():
                if key.endswith(".context_length") and isinstance(value, int):
                    return value
        return None

    def count_tokens(self, text: str) -> int:
        with self._lock:
            if self._counter is None:
                self._counter = self._find_counter()
        counted = self._counter(text)
        return counted if counted is not None else math.ceil(len(text) / _CHARS_PER_TOKEN)

    def _find_counter(self) -> Callable[[str], int | None]:
        def llama_server(text: str) -> int | None:
            body = self._get_json("POST", f"{self._root}/tokenize", json={"content": text})
            tokens = body.get("tokens") if isinstance(body, dict) else None
            return len(tokens) if isinstance(tokens, list) else None

        def llama_cpp_python(text: str) -> int | None:
            body = self._get_json(
                "POST", f"{self._root}/extras/tokenize/count", json={"input": text}
            )
            count = body.get("count") if isinstance(body, dict) else None
            return count if isinstance(count, int) else None

        for counter in (llama_server, llama_cpp_python):
            if counter("probe") is not None:
                return counter
        log.warning("the LLM server at %s cannot count tokens; estimating", self._base)
        return lambda text: None

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        return sum(self.count_tokens(m["content"]) + _PER_MESSAGE_TOKENS for m in messages)

    def stream(self, messages: Sequence[Message], options: SamplingOptions) -> Iterator[str]:
        body: dict[str, Any] = {
            "model": self._model,
            "messages": list(messages),
            "stream": True,
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
            "top_p": options.top_p,
            "seed": options.seed,
            # Not in OpenAI's own API, but honoured by llama.cpp's servers and ignored by others.
            "repeat_penalty": options.repeat_penalty,
        }
        if options.stop:
            body["stop"] = list(options.stop)[:4]  # the API allows at most four
        return self._events(body)

    def _events(self, body: dict[str, Any]) -> Iterator[str]:
        url = f"{self._base}/chat/completions"
        try:
            with self._client.stream("POST", url, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise LLMServerError(
                        f"the LLM server refused the request ({response.status_code}): "
                        f"{response.text[:300]}"
                    )
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line.removeprefix("data:").strip()
                    if data == "[DONE]":
                        return
                    text = _delta_text(json.loads(data))
                    if text:
                        yield text
        except httpx.ConnectError as exc:
            raise ModelNotFound(f"cannot reach the LLM server at {self._base}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise LLMServerError(f"the LLM server at {self._base} failed: {exc}") from exc


def _delta_text(event: Any) -> str:
    if isinstance(event, dict) and "error" in event:
        raise LLMServerError(f"the LLM server reported an error: {event['error']}")
    try:
        content = event["choices"][0]["delta"].get("content")
    except (KeyError, IndexError, TypeError, AttributeError):
        return ""
    return content if isinstance(content, str) else ""
