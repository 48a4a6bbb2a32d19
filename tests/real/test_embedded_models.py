"""Capture on the two embedded real models (installed by `make test`)."""

from __future__ import annotations

import numpy as np
import pytest

import sinkviz

pytestmark = pytest.mark.real

TEXT = ("The history of the city begins with a small settlement on the river, where traders met to exchange "
        "grain, salt and cloth before the first bridge was built.")


@pytest.fixture(scope="module")
def smol():
    return sinkviz.load("smollm2-135m")


def test_smollm2_metadata_and_shapes(smol):
    info = smol.info
    assert (info.n_layers, info.n_heads, info.n_kv_heads, info.head_dim) == (30, 9, 3, 64)
    assert info.kv_head_of == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert info.causal and info.rope and info.sliding_window == [None] * 30
    tr = sinkviz.trace(smol, TEXT)
    n = tr.n_tokens()
    assert tr.bos_added is False and tr.special_positions == [[]]  # SmolLM2's tokenizer adds no BOS: recorded
    assert tr.attentions[0].shape == (1, 9, n, n)
    assert tr.keys[0].shape == (1, 3, n, 64) and tr.queries[0].shape == (1, 9, n, 64)
    assert tr.hidden_states.shape == (31, 1, n, 576)
    np.testing.assert_allclose(tr.attention(10, 3).sum(-1), 1.0, atol=1e-5)
    assert np.triu(tr.attention(10, 3), 1).max() == 0.0


def test_most_smollm2_heads_sink_on_the_first_token(smol):
    tr = sinkviz.trace(smol, TEXT)
    first_share = np.array([[tr.attention(layer, head)[:, 0].mean() for head in range(9)] for layer in range(30)])
    share_above = (first_share > 0.3).mean()
    assert share_above > 0.5, f"only {share_above:.0%} of heads put > 0.3 on the first token"


def test_prepend_bos_toggle(smol):
    with_bos = sinkviz.trace(smol, TEXT, prepend_bos=True)
    assert with_bos.bos_added and with_bos.input_ids[0, 0] == smol.tokenizer.bos_token_id
    assert with_bos.n_tokens() == sinkviz.trace(smol, TEXT).n_tokens() + 1


def test_minilm_is_bidirectional_with_cls_first():
    mini = sinkviz.load("minilm-l6")
    assert (mini.info.n_layers, mini.info.n_heads) == (6, 12) and not mini.info.causal
    tr = sinkviz.trace(mini, TEXT)
    assert tr.tokens[0][0] == "[CLS]" and tr.bos_added
    attn = tr.attention(2, 5)
    assert np.triu(attn, 1).max() > 0  # sees the future
    np.testing.assert_allclose(attn.sum(-1), 1.0, atol=1e-5)
