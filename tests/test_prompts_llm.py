"""Prompt formats and generation with both packaged GGUF models through llama-cpp-python."""

from __future__ import annotations

import pytest

from rag.errors import InvalidRequest
from rag.llm.llama_cpp_backend import LlamaCppGenerator
from rag.llm.protocol import SamplingOptions
from rag.prompts.chat_formats import (
    NAMED_FORMATS,
    JinjaChatTemplate,
    Message,
    choose_format,
    named_format,
)

CONVERSATION: list[Message] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "Capital of France?"},
]


def test_smollm_uses_the_chat_template_in_its_gguf(smollm: LlamaCppGenerator) -> None:
    assert smollm.format_choice.reason == "gguf"
    assert isinstance(smollm.prompt_format, JinjaChatTemplate)
    assert "<|im_end|>" in smollm.prompt_format.stop


def test_hand_written_chatml_matches_smollm_reference_template(
    smollm: LlamaCppGenerator,
) -> None:
    assert NAMED_FORMATS["chatml"].render(CONVERSATION) == smollm.prompt_format.render(CONVERSATION)


def test_gemma_without_template_gets_gemma_format_not_llama2(gemma: LlamaCppGenerator) -> None:
    choice = gemma.format_choice
    assert (choice.reason, choice.format.name) == ("architecture", "gemma")
    prompt = gemma.prompt_format.render(CONVERSATION)
    assert prompt == (
        "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
        "<start_of_turn>model\nHello.<end_of_turn>\n"
        "<start_of_turn>user\nCapital of France?<end_of_turn>\n<start_of_turn>model\n"
    )
    assert "<end_of_turn>" in gemma.prompt_format.stop


def test_gemma_prompt_has_exactly_one_bos(gemma: LlamaCppGenerator) -> None:
    # The rendered Gemma prompt starts with "<bos>" and the GGUF asks llama.cpp to add a BOS too:
    # both at once would give the model two, which degrades its output.
    llama = gemma._loaded()
    tokens = gemma.tokenize(gemma.prompt_format.render(CONVERSATION))
    assert tokens[0] == llama.token_bos()
    assert tokens.count(llama.token_bos()) == 1
    # Turn markers must be single special tokens, not spelled out as text.
    start_of_turn = llama.tokenize(b"<start_of_turn>", add_bos=False, special=True)
    assert len(start_of_turn) == 1
    assert tokens[1] == start_of_turn[0]


def test_smollm_prompt_starts_with_one_im_start_token(smollm: LlamaCppGenerator) -> None:
    llama = smollm._loaded()
    im_start = llama.tokenize(b"<|im_start|>", add_bos=False, special=True)
    assert len(im_start) == 1
    tokens = smollm.tokenize(smollm.prompt_format.render(CONVERSATION))
    assert tokens[0] == im_start[0]
    assert tokens[1] != im_start[0]


@pytest.mark.parametrize("generator_name", ["smollm", "gemma"])
def test_generation_stops_cleanly(generator_name: str, request: pytest.FixtureRequest) -> None:
    generator: LlamaCppGenerator = request.getfixturevalue(generator_name)
    prompt = generator.prompt_format.render([{"role": "user", "content": "Say the word hello."}])
    text = "".join(generator.stream_prompt(prompt, SamplingOptions(max_tokens=24)))
    assert text.strip()
    for marker in (*generator.prompt_format.stop, "<|im_start|>", "<start_of_turn>"):
        assert marker not in text


def test_config_override_wins_and_unknown_names_are_refused() -> None:
    metadata = {"tokenizer.chat_template": "{{ messages }}", "general.architecture": "llama"}
    assert choose_format(metadata, "<s>", "</s>", override="zephyr").format.name == "zephyr"
    with pytest.raises(InvalidRequest, match=r"known formats: .*chatml"):
        named_format("no-such-format")


def test_unknown_model_falls_back_to_chatml_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    choice = choose_format({"general.architecture": "mystery"}, "", "")
    assert (choice.reason, choice.format.name) == ("default", "chatml")
    assert "RAG_CHAT_FORMAT" in caplog.text
