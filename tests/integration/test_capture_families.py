"""Capture is exact on tiny random models of every supported family, loaded the way users load them."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoModelForCausalLM

import sinkviz
from tiny_models import ENCODERS, family_configs, save_tiny, text

FAMILIES = list(family_configs())


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    """family -> (LoadedModel, Trace of two texts of different lengths, eager reference attentions)."""
    cache = {}

    def get(family: str):
        if family not in cache:
            folder = save_tiny(family, tmp_path_factory.mktemp(family))
            loaded = sinkviz.load(str(folder))
            tr = sinkviz.trace(loaded, [text(7), text(3, 5)])
            cls = AutoModel if family in ENCODERS else AutoModelForCausalLM
            eager = cls.from_pretrained(folder, attn_implementation="eager").eval()
            with torch.no_grad():
                out = getattr(eager, "base_model", eager)(
                    input_ids=tr.input_ids, attention_mask=tr.attention_mask.long(), output_attentions=True)
            cache[family] = (loaded, tr, [a.float() for a in out.attentions])
        return cache[family]

    return get


@pytest.mark.parametrize("family", FAMILIES)
def test_attention_equals_eager_output_attentions(traced, family):
    loaded, tr, reference = traced(family)
    assert tr.lengths[0] > tr.lengths[1]  # padding is really exercised
    for layer in range(loaded.info.n_layers):
        for b, n in enumerate(tr.lengths):
            got = tr.attentions[layer][b, :, :n, :n]
            want = reference[layer][b, :, :n, :n]
            torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
        # padded rows and columns are zeroed so no statistic sees them
        n_short = tr.lengths[1]
        assert tr.attentions[layer][1, :, n_short:, :].abs().sum() == 0
        assert tr.attentions[layer][1, :, :, n_short:].abs().sum() == 0


@pytest.mark.parametrize("family", FAMILIES)
def test_softmax_of_recomputed_logits_equals_captured(traced, family):
    loaded, tr, _ = traced(family)
    info = loaded.info
    modules = sinkviz.models.attention_modules(loaded.model)
    for layer in range(info.n_layers):
        for head in range(info.n_heads):
            for sample in range(tr.batch_size):
                logits = tr.logits(layer, head, sample)
                if info.learned_sinks:  # GPT-OSS: the learned sink logit joins each row's softmax
                    sink = float(modules[layer].sinks[head].detach())
                    top = np.maximum(logits.max(-1, keepdims=True), sink)
                    e = np.exp(logits - top)
                    probs = e / (e.sum(-1, keepdims=True) + np.exp(sink - top))
                    virtual = tr.virtual_sink[layer][sample, head, : tr.n_tokens(sample)].numpy()
                    np.testing.assert_allclose(probs.sum(-1) + virtual, 1.0, atol=1e-5)
                    assert virtual.min() > 0
                else:
                    e = np.exp(logits - logits.max(-1, keepdims=True))
                    probs = e / e.sum(-1, keepdims=True)
                np.testing.assert_allclose(probs, tr.attention(layer, head, sample), atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_gqa_mapping_matches_repeat_interleave(traced, family):
    loaded, tr, _ = traced(family)
    info = loaded.info
    group = info.n_heads // info.n_kv_heads
    for layer in tr.layers:
        repeated = torch.repeat_interleave(tr.keys[layer], group, dim=1)  # (B, H, T, d), as repeat_kv does
        for head in range(info.n_heads):
            np.testing.assert_array_equal(tr.key(layer, info.kv_head_of[head]), repeated[0, head, : tr.n_tokens()].numpy())
    if family not in ENCODERS and family != "gpt2":
        assert info.n_kv_heads < info.n_heads  # the tiny decoders use GQA on purpose


@pytest.mark.parametrize("family", FAMILIES)
def test_hidden_states_last_block_is_before_final_norm(traced, family):
    loaded, tr, _ = traced(family)
    assert tr.hidden_states.shape[0] == loaded.info.n_layers + 1
    last, final = tr.hidden_states[-1, 0], tr.final_hidden[0]
    if family in ENCODERS:  # BERT-style encoders have no final norm: the last block output is the output
        torch.testing.assert_close(last, final)
    else:
        assert (last - final).abs().max() > 1e-3


@pytest.mark.parametrize("family", [f for f in FAMILIES if f not in ENCODERS and f != "gpt2"])
def test_pre_rotary_queries_rotate_into_post_rotary(traced, family):
    """Applying the family's own apply_rotary_pos_emb to the captured pre-rotary q/k gives the post-rotary ones."""
    loaded, tr, _ = traced(family)
    model = loaded.model.base_model
    modeling = sys.modules[type(sinkviz.models.attention_modules(loaded.model)[0]).__module__]
    n = tr.n_tokens(0)
    positions = torch.arange(n)[None]
    for layer in tr.layers:
        rotary = model.rotary_emb
        args = (tr.queries_pre[layer][:1, :, :n], positions)
        if family == "gemma3":  # one rotary table per layer type (local / global)
            args += (loaded.model.config.layer_types[layer],)
        cos, sin = rotary(*args)
        q, k = modeling.apply_rotary_pos_emb(tr.queries_pre[layer][:1, :, :n], tr.keys_pre[layer][:1, :, :n], cos, sin)
        torch.testing.assert_close(q, tr.queries[layer][:1, :, :n], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(k, tr.keys[layer][:1, :, :n], atol=1e-5, rtol=1e-5)
        assert (tr.queries_pre[layer][0, :, 1:n] - tr.queries[layer][0, :, 1:n]).abs().max() > 1e-4


def test_families_report_their_attention_facts(traced):
    assert traced("mistral")[0].info.sliding_window == [4, 4, 4]
    assert traced("gemma3")[0].info.sliding_window == [4, 4, None]
    assert traced("gpt_oss")[0].info.learned_sinks
    assert not traced("bert")[0].info.causal and traced("llama")[0].info.causal
    assert traced("bert")[1].bos_added and not traced("llama")[1].bos_added


def test_layer_and_head_selection_keeps_only_what_was_asked(traced):
    loaded, full, _ = traced("llama")
    part = sinkviz.trace(loaded, [text(7), text(3, 5)], layers=[1], heads=[0, 3], capture=("attn",))
    assert list(part.attentions) == [1] and part.attentions[1].shape[1] == 2
    assert not part.queries and part.hidden_states is None
    torch.testing.assert_close(part.attentions[1], full.attentions[1][:, [0, 3]])
    with pytest.raises(KeyError, match="Trace again"):
        part.attention(0, 0)
    with pytest.raises(KeyError, match="not captured"):
        part.attention(1, 1)


@pytest.mark.parametrize("bias_mode", ["k", "kv", "sink_token"])
def test_slot_models_report_the_slot_as_a_virtual_sink(tmp_path, bias_mode):
    """Lab models with K/KV biases or a sink token have (T+1) x (T+1) maps; the token map is kept and the
    slot's mass (Gu et al. Sink_*) is reported as a virtual sink, equal to the model's own slot column."""
    from sinkviz.lab.model import SinkLabConfig, SinkLabForCausalLM

    torch.manual_seed(0)
    config = SinkLabConfig(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64,
                           bias_mode=bias_mode)
    model = SinkLabForCausalLM(config)
    with torch.no_grad():  # make the slot matter
        for name, param in model.named_parameters():
            if "bias" in name or "sink" in name:
                param.normal_(0.0, 1.0)
    model.save_pretrained(tmp_path)
    from tiny_models import char_tokenizer

    char_tokenizer(False).save_pretrained(tmp_path)
    loaded = sinkviz.load(str(tmp_path))
    tr = sinkviz.trace(loaded, [text(5), text(2, 1)])
    n = tr.n_tokens(0)
    loaded.model.set_attn_implementation("eager")  # the reference: the model's own output_attentions
    with torch.no_grad():
        out = loaded.model.base_model(input_ids=tr.input_ids[:1, :n], output_attentions=True)
    for layer in range(2):
        full = out.attentions[layer][0].float()  # (H, n+1, n+1), slot at index 0
        torch.testing.assert_close(tr.attentions[layer][0, :, :n, :n], full[:, 1:, 1:], atol=1e-6, rtol=0)
        torch.testing.assert_close(tr.virtual_sink[layer][0, :, :n], full[:, 1:, 0], atol=1e-6, rtol=0)
        assert tr.keys[layer].shape[2] == tr.input_ids.shape[1]
    assert tr.hidden_states.shape[2] == tr.input_ids.shape[1]
