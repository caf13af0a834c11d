"""The default backend: a GGUF model run in-process by llama-cpp-python."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import ModelNotFound
from rag.llm.model_files import check_model_path
from rag.llm.protocol import SamplingOptions
from rag.optional import require
from rag.prompts.chat_formats import (
    BUILTIN_FORMATS,
    FormatChoice,
    FormatRegistry,
    Message,
    PromptFormat,
    choose_format,
    neutralized,
)

if TYPE_CHECKING:
    from llama_cpp import Llama

log = logging.getLogger(__name__)


class LlamaCppGenerator:
    """A GGUF model run by llama-cpp-python, loaded on first use.

    `model` is a .gguf path, or a hub id `owner/repo` or `owner/repo:file.gguf` (downloaded
    once by huggingface_hub when the machine has a network).
    """

    def __init__(
        self,
        model: str,
        *,
        n_ctx_limit: int = 4096,
        n_threads: int = 1,
        n_gpu_layers: int = -1,
        chat_format: str | None = None,
        formats: FormatRegistry = BUILTIN_FORMATS,
        allow_pickle: bool = False,
    ) -> None:
        self._model_spec = model
        self._formats = formats
        self._allow_pickle = allow_pickle
        self._n_ctx_limit = n_ctx_limit
        self._n_threads = n_threads
        self._n_gpu_layers = n_gpu_layers
        self._chat_format = chat_format
        self._llama: Llama | None = None
        self._choice: FormatChoice | None = None
        self._load_lock = threading.Lock()
        # One llama.cpp context cannot decode two sequences at once: generations take turns.
        self._generate_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._model_spec

    def warm_up(self) -> None:
        self._loaded()

    def _loaded(self) -> Llama:
        with self._load_lock:
            if self._llama is None:
                check_model_path(Path(self._model_spec).expanduser(), self._allow_pickle)
                self._llama = _load_llama(
                    self._model_spec, self._n_ctx_limit, self._n_threads, self._n_gpu_layers
                )
                self._choice = _format_for(self._llama, self._chat_format, self._formats)
                log.info(
                    "prompt format %s (from %s)", self._choice.format.name, self._choice.reason
                )
            return self._llama

    @property
    def format_choice(self) -> FormatChoice:
        self._loaded()
        assert self._choice is not None
        return self._choice

    @property
    def prompt_format(self) -> PromptFormat:
        return self.format_choice.format

    @property
    def format_name(self) -> str:
        return self.prompt_format.name

    @property
    def context_size(self) -> int:
        return int(self._loaded().n_ctx())

    def tokenize(self, prompt: str) -> list[int]:
        """Tokens of a formatted prompt, with special tokens parsed and exactly one BOS."""
        llama = self._loaded()
        bos = _token_text(llama, llama.token_bos())
        starts_with_bos = bool(bos) and prompt.startswith(bos)
        return list(llama.tokenize(prompt.encode(), add_bos=not starts_with_bos, special=True))

    def render(self, messages: Sequence[Message]) -> str:
        """The prompt text for a chat; message text cannot forge the template's control tokens."""
        fmt = self.prompt_format
        return fmt.render(neutralized(messages, fmt.stop))

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        return len(self.tokenize(self.render(messages)))

    def count_tokens(self, text: str) -> int:
        return len(self._loaded().tokenize(text.encode(), add_bos=False, special=False))

    def stream(self, messages: Sequence[Message], options: SamplingOptions) -> Iterator[str]:
        return self.stream_prompt(self.render(messages), options)

    def stream_prompt(self, prompt: str, options: SamplingOptions) -> Iterator[str]:
        """Continue an already formatted prompt (what the raw-model benchmark compares with)."""
        llama = self._loaded()
        tokens = self.tokenize(prompt)
        stop = list(dict.fromkeys([*self.prompt_format.stop, *options.stop]))
        with self._generate_lock:
            pieces = llama.create_completion(
                prompt=tokens,
                max_tokens=options.max_tokens,
                temperature=options.temperature,
                top_p=options.top_p,
                repeat_penalty=options.repeat_penalty,
                seed=options.seed,
                stop=stop,
                stream=True,
            )
            try:
                for piece in pieces:
                    text = piece["choices"][0]["text"]  # type: ignore[index]
                    if text:
                        yield text
            finally:
                pieces.close()  # type: ignore[union-attr]


def _token_text(llama: Llama, token: int) -> str:
    if token < 0:
        return ""
    return llama.detokenize([token], special=True).decode("utf-8", errors="replace")


def _format_for(llama: Llama, override: str | None, formats: FormatRegistry) -> FormatChoice:
    metadata = {str(k): str(v) for k, v in llama.metadata.items()}
    return choose_format(
        metadata,
        _token_text(llama, llama.token_bos()),
        _token_text(llama, llama.token_eos()),
        override,
        formats,
    )


def _load_llama(spec: str, n_ctx_limit: int, n_threads: int, n_gpu_layers: int) -> Llama:
    require(
        "llama_cpp",
        package="llama-cpp-python",
        feature="the llama-cpp backend (RAG_LLM_BACKEND=llama-cpp)",
        install="run scripts/bootstrap.sh (it builds it safely), or use RAG_LLM_BACKEND=openai",
    )
    from llama_cpp import Llama, llama_supports_gpu_offload

    options: dict[str, Any] = {
        "n_threads": n_threads,
        "n_threads_batch": n_threads,
        "n_gpu_layers": n_gpu_layers if llama_supports_gpu_offload() else 0,
        "verbose": False,
    }
    path = Path(spec).expanduser()
    try:
        if path.suffix == ".gguf" or path.exists():
            if not path.is_file():
                raise ModelNotFound(f"LLM file not found: {path} (check RAG_LLM_MODEL)")
            llama = _open_with_context_cap(
                lambda **kw: Llama(model_path=str(path), **kw), n_ctx_limit, options
            )
        else:
            repo, _, filename = spec.partition(":")
            llama = _open_with_context_cap(
                lambda **kw: Llama.from_pretrained(
                    repo_id=repo, filename=filename or "*.gguf", **kw
                ),
                n_ctx_limit,
                options,
            )
    except ModelNotFound:
        raise
    except Exception as exc:
        raise ModelNotFound(f"could not load LLM {spec!r}: {exc}") from exc
    return llama


def _open_with_context_cap(open_model: Any, n_ctx_limit: int, options: dict[str, Any]) -> Llama:
    """Open with the configured context, shrunk to the model's trained context when smaller.

    The trained size is only known once the file is open; the second open happens only for
    models trained on a context shorter than the limit.
    """
    llama: Llama = open_model(n_ctx=n_ctx_limit, **options)
    trained = int(llama._model.n_ctx_train())
    if 0 < trained < n_ctx_limit:
        del llama
        llama = open_model(n_ctx=trained, **options)
    return llama
