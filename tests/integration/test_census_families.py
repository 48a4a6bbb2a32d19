"""The census on tiny random models of every family equals dense eager attention (output_attentions).

For each family: a padded batch (right padding) goes through ``Census``; the reference is the eager forward's
attention probabilities, from which alpha, row entropy, row max and first-position mass are recomputed densely over
the valid queries. GQA (4 query / 2 KV heads), sliding windows (Mistral, Gemma 3, GPT-OSS), learned sink logits
(GPT-OSS), soft-capping (Gemma 2), bidirectional encoders (BERT, XLM-R) and padding are all exercised.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoModelForCausalLM, Gemma2Config

from sinkviz.census import Census, run_census
from tiny_models import DECODER_COMMON, ENCODERS, VOCAB, family_configs

T = 20
LENGTHS = [20, 13]
N_KEYS = 6


def build(family: str):
    torch.manual_seed(0)
    if family == "gemma2":
        cfg = Gemma2Config(**DECODER_COMMON, head_dim=8, sliding_window=4, attn_logit_softcapping=0.5,
                           layer_types=["sliding_attention", "full_attention", "sliding_attention"])
    else:
        cfg = family_configs()[family]
    cls = AutoModel if family in ENCODERS else AutoModelForCausalLM
    model = cls.from_config(cfg).eval()
    if family == "gpt_oss":  # learned sink logits start at zero; make them matter
        with torch.no_grad():
            for module in model.modules():
                if hasattr(module, "sinks"):
                    module.sinks.normal_(0.0, 1.0)
    return model


def batch():
    torch.manual_seed(1)
    ids = torch.randint(4, VOCAB, (len(LENGTHS), T))
    mask = (torch.arange(T)[None, :] < torch.tensor(LENGTHS)[:, None]).long()
    return ids, mask


def eager_reference(model, ids, mask):
    before = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            out = model(input_ids=ids, attention_mask=mask, output_attentions=True)
    finally:
        model.set_attn_implementation(before)
    qv = mask.bool()
    ref = {"alpha": [], "entropy": [], "row_max": [], "first_mass": [], "count": []}
    for a in out.attentions:  # (B, H, T, T)
        a = a.double() * qv[:, None, :, None]  # padded query rows out
        count = ((a > 0).any(1) & qv[:, :, None]).sum(1).double()  # (B, T) valid queries that see each key
        colsum = a.sum(2)
        alpha = torch.where(count[:, None] > 0, colsum / count[:, None].clamp_min(1), float("nan"))
        logp = torch.where(a > 0, a.log(), torch.zeros_like(a))
        n = qv.sum(-1).double()[:, None]
        ref["alpha"].append(alpha)
        ref["entropy"].append(-(a * logp).sum((-1, -2)) / n)
        ref["row_max"].append(a.amax(-1).sum(-1) / n)
        ref["first_mass"].append(a[..., :4].sum(-1).sum(-1) / n)
        ref["count"].append(count)
    return {k: torch.stack(v, 1).cpu().numpy() for k, v in ref.items()}, out


FAMILIES = ["llama", "mistral", "qwen2", "qwen3", "gemma3", "gemma2", "gpt_oss", "gpt2", "bert", "xlm-roberta"]


@pytest.mark.parametrize("family", FAMILIES)
def test_census_equals_dense_eager(family):
    model = build(family)
    ids, mask = batch()
    ref, _ = eager_reference(model, ids, mask)
    before = model.config._attn_implementation
    c = Census(model, seq_len=T, n_keys=N_KEYS, n_first=4, backend="torch")
    c.add(ids, mask)
    res = c.result()
    assert model.config._attn_implementation == before  # restored after the census forward
    L = ref["alpha"].shape[1]
    assert res.alpha.shape == (2, L, 4, N_KEYS)
    np.testing.assert_allclose(res.alpha, ref["alpha"][..., :N_KEYS], atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(res.entropy, ref["entropy"], atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(res.row_max, ref["row_max"], atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(res.first_mass, ref["first_mass"], atol=2e-5, rtol=1e-4)
    # every key: mean over samples of alpha, and the number of samples that have the key
    with np.errstate(invalid="ignore"):
        alpha_mean = np.nanmean(ref["alpha"], axis=0)
    np.testing.assert_allclose(res.alpha_mean(), alpha_mean, atol=2e-5, rtol=1e-4)
    np.testing.assert_array_equal(res.alpha_n[0], (np.arange(T)[None] < np.array(LENGTHS)[:, None]).sum(0))
    np.testing.assert_allclose(res.count_sum, ref["count"].sum(0), atol=0)
    np.testing.assert_array_equal(res.lengths, LENGTHS)


def test_sliding_window_counts_follow_the_window():
    model = build("mistral")  # sliding_window = 4 on every layer
    ids, _ = batch()
    res = run_census(model, ids[:1], n_keys=N_KEYS)
    expect = np.minimum(4, T - np.arange(T))
    np.testing.assert_array_equal(res.count_sum[0], expect)


def test_census_forward_output_is_the_models_own():
    model = build("llama")
    ids, mask = batch()
    with torch.no_grad():
        plain = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
    seen = {}
    hook = model.model.norm.register_forward_hook(lambda m, i, o: seen.__setitem__("h", o.detach().clone()))
    try:
        Census(model, seq_len=T).add(ids, mask)
    finally:
        hook.remove()
    torch.testing.assert_close(seen["h"], plain, atol=1e-5, rtol=1e-5)


def test_eager_output_mode_reproduces_the_eager_forward():
    model = build("gemma3")
    ids, mask = batch()
    ref, out = eager_reference(model, ids, mask)
    c = Census(model, seq_len=T, n_keys=N_KEYS, attn_output="eager")
    c.add(ids, mask)
    np.testing.assert_allclose(c.result().alpha, ref["alpha"][..., :N_KEYS], atol=1e-6, rtol=1e-5)


def test_layer_selection_and_bad_layers():
    model = build("qwen3")
    ids, mask = batch()
    res = run_census(model, ids, attention_mask=mask, layers=[2, 0], n_keys=N_KEYS, batch_size=2)
    assert res.layers == [0, 2]
    ref, _ = eager_reference(model, ids, mask)
    np.testing.assert_allclose(res.alpha, ref["alpha"][:, [0, 2], :, :N_KEYS], atol=2e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="out of range"):
        Census(model, seq_len=T, layers=[3])


def test_a_failing_kernel_falls_back_to_the_exact_torch_path(monkeypatch):
    from sinkviz.census import kernels as ck

    def broken(*a, **k):
        raise RuntimeError("no kernel here")

    monkeypatch.setattr(ck, "triton_available", lambda device=None: True)
    monkeypatch.setattr(ck, "stats_triton", broken)
    model = build("llama")
    ids, mask = batch()
    ref, _ = eager_reference(model, ids, mask)
    c = Census(model, seq_len=T, n_keys=N_KEYS, backend="triton")
    with pytest.warns(RuntimeWarning, match="no kernel here"):
        c.add(ids, mask)
    res = c.result()
    assert "no kernel here" in res.meta["triton_error"]
    np.testing.assert_allclose(res.alpha, ref["alpha"][..., :N_KEYS], atol=2e-5, rtol=1e-4)
