"""Table 1 (Gu et al. 2025 §3.3) on the paper's protocol: random and repeated tokens with no BOS by default, the
tokenizer's BOS variant as an extra, labelled entry.  A tiny rotary (LLaMA) model with a BOS-adding tokenizer."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig

import sinkviz
from sinkviz.papers import gu2025
from sinkviz.papers.probes import probe_inputs, tokenizer_prefix
from tiny_models import char_tokenizer

HEAD_DIM, N_HEADS, N_KV = 8, 4, 2
SLOW_PLANE = (3, 7)  # rotate_half pairs dims (i, i + d/2); plane 3 turns 10000^(-3/4) = 1e-3 rad per position


@pytest.fixture(scope="module")
def bos_llama(tmp_path_factory):
    """A random tiny LLaMA with the mechanism a trained one learns planted by hand: only <s> has a component on
    residual dimension 0, every key reads it into the slowest rotary plane and every query has a constant there
    (q bias), so queries attend to <s> wherever it is in front.  Attention and MLP never write dimension 0, so no
    other token acquires the sink key.  Without <s> the logits are near zero and attention is near uniform."""
    folder = tmp_path_factory.mktemp("bos_llama")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=N_HEADS, num_key_value_heads=N_KV, max_position_embeddings=128,
                         attention_bias=True)
    model = AutoModelForCausalLM.from_config(config)
    with torch.no_grad():
        emb = model.model.embed_tokens.weight
        emb[:, 0] = 0.0
        emb[1] = 0.0
        emb[1, 0] = 1.0
        for layer in model.model.layers:
            attn = layer.self_attn
            for h in range(N_HEADS):
                rows = [h * HEAD_DIM + d for d in SLOW_PLANE]
                attn.q_proj.weight[rows] = 0.0
                attn.q_proj.bias[rows] = 3.0
            for g in range(N_KV):
                rows = [g * HEAD_DIM + d for d in SLOW_PLANE]
                attn.k_proj.weight[rows] = 0.0
                attn.k_proj.weight[rows, 0] = 3.0
                attn.k_proj.bias[rows] = 0.0
            attn.o_proj.weight[0] = 0.0
            layer.mlp.down_proj.weight[0] = 0.0
    model.save_pretrained(folder, safe_serialization=True)
    char_tokenizer(encoder=False, bos=True).save_pretrained(folder)
    return sinkviz.load(str(folder), device="cpu", dtype="fp32", progress=False)


def test_tokenizer_adds_bos(bos_llama):
    assert tokenizer_prefix(bos_llama.tokenizer) == [1]
    assert bos_llama.info.rope


def test_repeat_without_bos_has_no_sink_with_bos_it_does(bos_llama):
    res = gu2025.table1(bos_llama, T=32, n=4, kinds=("random", "repeat"), batch_size=4)
    assert set(res) == {"random", "repeat", "random (after <s>)", "repeat (after <s>)"}
    paper, with_bos = res["repeat"], res["repeat (after <s>)"]
    # the paper's protocol: the 32 inputs are one token, repeated; no BOS
    ids = paper["batch"].input_ids
    assert ids.shape == (4, 32) and (ids != 1).all() and all(len(set(r.tolist())) == 1 for r in ids)
    assert paper["protocol"] == "paper" and paper["kind"] == "repeat"
    assert paper["sink_1"] == 0.0
    # identical tokens under rotary positions: near-uniform causal attention, alpha_1 ~ H_32 / 32
    np.testing.assert_allclose(paper["alpha"][..., 0], sum(1 / t for t in range(1, 33)) / 32, atol=0.02)
    # the other variant: <s> then the same token 31 times, labelled with the prefix it used
    assert (with_bos["batch"].input_ids[:, 0] == 1).all()
    assert torch.equal(with_bos["batch"].input_ids[:, 1:], ids[:, 1:])
    assert with_bos["protocol"] == "tokenizer prefix <s>" and with_bos["kind"] == "repeat"
    assert with_bos["sink_1"] > 50.0


def test_prefix_variant_off_and_the_named_prefix_option(bos_llama):
    res = gu2025.table1(bos_llama, T=16, n=2, kinds=("repeat",), prefix_variant=False, batch_size=2)
    assert list(res) == ["repeat"]
    assert (probe_inputs(bos_llama.tokenizer, "repeat", T=8, n=2, prefix="tokenizer").input_ids[:, 0] == 1).all()
