"""The second local backend: a Hugging Face model run by transformers.

For models that have no GGUF, or for GPUs where 4-bit bitsandbytes is the preferred way to fit
a model. Checkpoints quantized ahead of time load through transformers' own support for their
method (bitsandbytes 4-bit, GPTQ and AWQ, all three also on CPU). The chat format
is the tokenizer's own chat template when it has one, otherwise the same registry the GGUF
backend uses.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import ModelNotFound
from rag.llm.model_files import check_model_path
from rag.llm.protocol import SamplingOptions, hold_back_stops
from rag.optional import require
from rag.prompts.chat_formats import (
    BUILTIN_FORMATS,
    FormatChoice,
    FormatRegistry,
    JinjaChatTemplate,
    Message,
    choose_format,
    neutralized,
)

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

_DONE = object()


class TransformersGenerator:
    """`AutoModelForCausalLM` + the tokenizer's chat template, loaded on first use."""

    def __init__(
        self,
        model: str,
        *,
        n_ctx_limit: int = 4096,
        chat_format: str | None = None,
        formats: FormatRegistry = BUILTIN_FORMATS,
        allow_pickle: bool = False,
    ) -> None:
        self._spec = model
        self._n_ctx_limit = n_ctx_limit
        self._chat_format = chat_format
        self._formats = formats
        self._allow_pickle = allow_pickle
        self._loaded_parts: tuple[PreTrainedModel, PreTrainedTokenizerBase, FormatChoice] | None
        self._loaded_parts = None
        self._load_lock = threading.Lock()
        self._generate_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._spec

    def warm_up(self) -> None:
        self._parts()

    def _parts(self) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, FormatChoice]:
        with self._load_lock:
            if self._loaded_parts is None:
                self._loaded_parts = self._load()
                log.info(
                    "prompt format %s (from %s)",
                    self._loaded_parts[2].format.name,
                    self._loaded_parts[2].reason,
                )
            return self._loaded_parts

    def _load(self) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, FormatChoice]:
        require(
            "transformers",
            package="transformers",
            feature="the transformers backend (RAG_LLM_BACKEND=transformers)",
            install="pip install transformers torch",
        )
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        local = Path(self._spec).expanduser()
        if local.exists():
            check_model_path(local, self._allow_pickle)
        source = str(local) if local.exists() else self._spec
        require_quantization_support(source)
        options: dict[str, Any] = {"use_safetensors": None if self._allow_pickle else True}
        if torch.cuda.is_available():
            options.update(device_map="auto", dtype=torch.float16)
            quantization = _four_bit_config()
            if quantization is not None:
                options["quantization_config"] = quantization
        try:
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModelForCausalLM.from_pretrained(source, **options)
        except Exception as exc:
            raise ModelNotFound(
                f"could not load transformers model {self._spec!r}: {exc} (only safetensors "
                "weights load unless RAG_ALLOW_PICKLE=true)"
            ) from exc
        model.eval()
        return model, tokenizer, self._choose_format(model, tokenizer)

    def _choose_format(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase
    ) -> FormatChoice:
        metadata = {
            "general.architecture": str(getattr(model.config, "model_type", "")),
            "general.name": str(getattr(model.config, "name_or_path", "")),
        }
        template = getattr(tokenizer, "chat_template", None)
        if isinstance(template, str) and template:
            metadata["tokenizer.chat_template"] = template
        choice = choose_format(
            metadata,
            tokenizer.bos_token or "",
            tokenizer.eos_token or "",
            self._chat_format,
            self._formats,
        )
        if isinstance(choice.format, JinjaChatTemplate):
            return FormatChoice(replace(choice.format, name="tokenizer-template"), "tokenizer")
        return choice

    @property
    def format_choice(self) -> FormatChoice:
        return self._parts()[2]

    @property
    def format_name(self) -> str:
        return self.format_choice.format.name

    @property
    def context_size(self) -> int:
        model, tokenizer, _ = self._parts()
        trained: Any = getattr(model.config, "max_position_embeddings", None) or getattr(
            tokenizer, "model_max_length", None
        )
        return min(self._n_ctx_limit, int(trained)) if trained else self._n_ctx_limit

    def render(self, messages: Sequence[Message]) -> str:
        fmt = self.format_choice.format
        return fmt.render(neutralized(messages, fmt.stop))

    def _encode(self, text: str) -> list[int]:
        _, tokenizer, _ = self._parts()
        ids: list[int] = tokenizer(text, add_special_tokens=False)["input_ids"]
        bos = tokenizer.bos_token_id
        # A template that does not write the BOS itself expects the tokenizer to add it.
        wants_bos = bool(getattr(tokenizer, "add_bos_token", False))
        if bos is not None and wants_bos and (not ids or ids[0] != bos):
            ids = [bos, *ids]
        return ids

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        return len(self._encode(self.render(messages)))

    def count_tokens(self, text: str) -> int:
        _, tokenizer, _ = self._parts()
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def stream(self, messages: Sequence[Message], options: SamplingOptions) -> Iterator[str]:
        fmt = self.format_choice.format
        stops = list(dict.fromkeys([*fmt.stop, *options.stop]))
        return hold_back_stops(self._generate(self.render(messages), options), stops)

    def _generate(self, prompt: str, options: SamplingOptions) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        model, tokenizer, _ = self._parts()
        input_ids = torch.tensor([self._encode(prompt)], device=model.device)
        tokens: queue.Queue[object] = queue.Queue()
        cancelled = threading.Event()

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), cancelled.is_set(), dtype=torch.bool)

        class Streamer:
            prompt_seen = False

            def put(self, value: Any) -> None:
                if not self.prompt_seen:  # generate() first hands over the prompt itself
                    self.prompt_seen = True
                    return
                for token in value.reshape(-1).tolist():
                    tokens.put(token)

            def end(self) -> None:
                tokens.put(_DONE)

        sampling = options.temperature > 0
        arguments: dict[str, Any] = {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "max_new_tokens": options.max_tokens,
            "do_sample": sampling,
            "repetition_penalty": options.repeat_penalty,
            "streamer": Streamer(),
            "stopping_criteria": StoppingCriteriaList([Cancelled()]),
            "pad_token_id": tokenizer.pad_token_id or tokenizer.eos_token_id,
        }
        if sampling:
            arguments.update(temperature=options.temperature, top_p=options.top_p)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                with self._generate_lock, torch.inference_mode():
                    torch.manual_seed(options.seed)
                    model.generate(**arguments)  # type: ignore[operator]
            except BaseException as exc:  # surfaced in the consumer's thread
                failure.append(exc)
                tokens.put(_DONE)

        worker = threading.Thread(target=run, name="transformers-generate", daemon=True)
        worker.start()
        generated: list[int] = []
        shown = ""
        try:
            while (token := tokens.get()) is not _DONE:
                assert isinstance(token, int)
                generated.append(token)
                text = str(tokenizer.decode(generated, skip_special_tokens=True))
                # A token can end inside a multi-byte character: wait for the rest of it.
                if text.endswith("\ufffd"):
                    continue
                if len(text) > len(shown):
                    yield text[len(shown) :]
                    shown = text
            if failure:
                raise ModelNotFound(f"generation failed: {failure[0]}") from failure[0]
        finally:
            cancelled.set()
            worker.join()


# A checkpoint quantized ahead of time names its method in config.json; transformers loads it
# through the method's own packages (modules, their names), installed with the extra named here.
# transformers 5 loads AWQ through gptqmodel too (autoawq is archived); both run on CPU.
_QUANTIZATION_PACKAGES = {
    "bitsandbytes": (("bitsandbytes", "accelerate"), "bitsandbytes and accelerate", "bnb"),
    "gptq": (("gptqmodel", "optimum"), "gptqmodel and optimum", "gptq"),
    "awq": (("gptqmodel", "accelerate"), "gptqmodel and accelerate", "awq"),
}


def require_quantization_support(source: str) -> None:
    """A clear error naming the extra to install when a checkpoint (a local folder or a hub id)
    is quantized with a method whose package is missing, rather than transformers' error from
    deep inside; and a quiet import of the packages it has.

    >>> require_quantization_support("/no/such/model")  # loading reports what is missing
    """
    method = _quantization_method(source)
    if method not in _QUANTIZATION_PACKAGES:
        return
    modules, package, extra = _QUANTIZATION_PACKAGES[method]
    if method == "bitsandbytes":
        # Its CPU backend, on import (below), asks a kernel hub for a faster 4-bit matmul and
        # logs a warning telling the user to install more when it cannot (offline, by design
        # here); it then uses its own CPU kernels.
        logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
    install = f"pip install 'localrag[{extra}]' (from a checkout: pip install -e '.[{extra}]')"
    for module in modules:
        # gptqmodel prints a banner and the environment variables it sets to stdout when
        # imported: sent to stderr, stdout stays the command's own (`--json`, the MCP stream).
        with contextlib.redirect_stdout(sys.stderr):
            require(
                module,
                package=package,
                feature=f"a {method.upper()}-quantized checkpoint ({source})",
                install=install,
            )
    if "gptqmodel" in modules:
        # It logs each kernel choice and load step through its own logger ("logbar"), which
        # writes to stdout: errors only (they also raise). The logger exists once imported.
        logging.getLogger("logbar").setLevel(logging.ERROR)


def _quantization_method(source: str) -> str:
    """The method a checkpoint was quantized with ahead of time ("" for none), from its config:
    a local folder's config.json, or a hub model's (which loading fetches anyway)."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(source)
    except Exception:  # loading the model reports an unreadable config itself
        return ""
    quantization = getattr(config, "quantization_config", None) or {}
    if not isinstance(quantization, dict):
        quantization = quantization.to_dict()
    return str(quantization.get("quant_method", "")).lower()


def _four_bit_config() -> Any:
    """4-bit NF4 weights through bitsandbytes, when it is installed (CUDA machines only)."""
    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except ImportError:
        log.info("bitsandbytes is not installed: loading the model in fp16 on the GPU")
        return None
    import torch

    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.float16
    )
