"""A tiny causal LM (random weights) with a real tokenizer, built on the spot for backend tests.

Nothing is downloaded: the byte-level BPE tokenizer is trained on a few sentences and the model
is a two-layer Llama. Its answers are noise, but loading, templating, tokenizing, streaming,
stopping and seeding all run through the real transformers code.
"""

from __future__ import annotations

from pathlib import Path

CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_TEXT = [
    "The launch code for the Aurora rocket is PURPLE-42.",
    "Answer from the passages and cite them like [1].",
    "The warehouse lease ends on 31 March 2031. Paid holiday is 25 days.",
] * 20


def build_tiny_llm(
    folder: Path, *, chat_template: str | None = CHATML_TEMPLATE, hidden_size: int = 32
) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<s>", "</s>", "<pad>", "<|im_start|>", "<|im_end|>"]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(_TEXT, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="<|im_end|>",
        pad_token="<pad>",
        additional_special_tokens=["<|im_start|>"],
    )
    if chat_template is not None:
        fast.chat_template = chat_template
    config = LlamaConfig(
        vocab_size=fast.vocab_size,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def as_pickle_checkpoint(folder: Path) -> Path:
    """The same model with its weights as a PyTorch pickle (`pytorch_model.bin`) instead."""
    import torch
    from safetensors.torch import load_file

    weights = folder / "model.safetensors"
    torch.save(load_file(weights), folder / "pytorch_model.bin")
    weights.unlink()
    return folder


# gptqmodel's own weight-only (round-to-nearest) quantizer, run in a child process: the test's
# process then imports gptqmodel the way the product does (its banner must not reach stdout).
_GPTQMODEL_QUANTIZE = """
import sys
from gptqmodel import GPTQModel
from gptqmodel.quantization.config import RTNConfig
source, folder, layout = sys.argv[1:]
config = RTNConfig(bits=4, group_size=64, format=layout, sym=layout == "gptq")
model = GPTQModel.load(source, config, device="cpu")
model.quantize(None)
model.save(folder)
"""


def as_gptqmodel_checkpoint(source: Path, folder: Path, method: str) -> Path:
    """`source` saved as 4-bit GPTQ (`method="gptq"`) or AWQ GEMM (`method="awq"`) safetensors.

    GPTQ and AWQ differ in how the 4-bit weights are packed (GPTQ: `qweight` is [in/8, out];
    AWQ GEMM: [in, out/8], zero points per group) and in the config that names the method. The
    weights here are rounded to nearest rather than fitted on calibration text (gptqmodel's
    GPTQ and AWQ searches need a GPU for AWQ); loading only sees the packed tensors and config.
    gptqmodel labels an AWQ-packed export `quant_method: gptq`, `format: gemm`; it is rewritten
    the way AutoAWQ, where most AWQ checkpoints come from, writes it.
    """
    import json
    import os
    import subprocess
    import sys

    layout = "gptq" if method == "gptq" else "gemm"
    environment = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        # Pack in Python rather than compile gptqmodel's C++ packer (a minute, once).
        "GPTQMODEL_DISABLE_PACK_EXT": "1",
        # Its default CPU pool on a 2-core machine is smaller than its model loader asks for.
        "GPTQMODEL_CPU_WORKERS": "2",
    }
    done = subprocess.run(
        [sys.executable, "-c", _GPTQMODEL_QUANTIZE, str(source), str(folder), layout],
        env=environment,
        cwd=folder.parent,  # gptqmodel writes a log folder where it runs
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"gptqmodel could not quantize: {done.stderr[-3000:]}"
    if method == "awq":
        config_file = folder / "config.json"
        config = json.loads(config_file.read_text())
        exported = config["quantization_config"]
        config["quantization_config"] = {
            "quant_method": "awq",
            "bits": exported["bits"],
            "group_size": exported["group_size"],
            "zero_point": not exported["sym"],
            "version": "gemm",
        }
        config_file.write_text(json.dumps(config))
    return folder
