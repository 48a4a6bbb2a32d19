"""The Gu et al. notebook's offline-disabled paths (``sinkviz/notebooks/gu2025_attention_sink.ipynb``, the cell after
"Fig. 10 ... Figs 25–27"), as far as package code carries them.

* Fig. 10 (Sink₁ against HellaSwag accuracy): ``gu2025.fig10_row`` / ``hellaswag_accuracy``, driven here with a
  fake ``lm_eval`` that records what it was given and answers with hand-picked accuracies.
* Figs 25–27 (Jamba α₁ per block and head): the notebook calls ``gu2025.importance_for(jamba, ids, batch_size=1)``,
  then ``sink.alpha_layer_head`` and ``heatmaps.alpha_heatmap``. The two last steps are checked on a hand-built α;
  the first on a tiny random Jamba (one Mamba block, one attention block), which sinkviz refuses when it is loaded
  (``NoAttentionLayersError`` naming the Mamba block): it numbers layers by block and does not trace hybrids.
"""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from sinkviz.metrics import sink as S
from sinkviz.papers import gu2025
from sinkviz.plots import heatmaps


def _hand_built_alpha() -> np.ndarray:
    """α of shape (N=3 samples, L=2 blocks, H=3 heads, T=4 keys), α₁ distinct in every (block, head), one NaN
    (a padded sample) in block 2, head 3."""
    alpha = np.full((3, 2, 3, 4), 0.05)
    first = np.array([[[0.9, 0.1, 0.5], [0.3, 0.7, 0.2]],
                      [[0.6, 0.2, 0.5], [0.4, 0.8, np.nan]],
                      [[0.3, 0.3, 0.5], [0.5, 0.9, 0.6]]])
    alpha[..., 0] = first
    alpha[..., 1] = 0.99  # the second key: a figure reading k = 2 instead of k = 1 would show 0.99 everywhere
    return alpha


def test_figs25_27_alpha_per_block_and_head_is_the_sample_mean_of_alpha_1():
    alpha_lh = S.alpha_layer_head(_hand_built_alpha())
    np.testing.assert_allclose(alpha_lh, [[0.6, 0.2, 0.5], [0.4, 0.8, 0.4]])  # NaN left out: (0.2 + 0.6) / 2
    np.testing.assert_allclose(S.alpha_layer_head(_hand_built_alpha(), k=1), np.full((2, 3), 0.99))


def test_figs25_27_heatmap_draws_alpha_1_with_blocks_down_and_heads_across():
    alpha_lh = S.alpha_layer_head(_hand_built_alpha())
    fig = heatmaps.alpha_heatmap(alpha_lh, title="Figs 25–27: α₁ per block and head")
    assert len(fig.data) == 1
    hm = fig.data[0]
    np.testing.assert_allclose(np.asarray(hm.z, dtype=float), [[0.6, 0.2, 0.5], [0.4, 0.8, 0.4]])
    assert list(hm.y) == [1, 2] and list(hm.x) == [1, 2, 3]  # the paper counts blocks and heads from 1
    assert (hm.zmin, hm.zmax) == heatmaps.PAPER_ALPHA_RANGE == (0.2, 0.8)
    assert fig.layout.yaxis.title.text == "block (1-indexed)" and fig.layout.xaxis.title.text == "head (1-indexed)"
    assert fig.layout.yaxis.autorange == "reversed"  # block 1 on top
    assert "Figs 25–27" in fig.layout.title.text


def _tiny_jamba():
    """A 2-block random Jamba, block 0 Mamba, block 1 attention (4 query heads, 2 KV heads), with the decoder
    character tokenizer of the integration tests; builds and runs on the CPU in well under a second."""
    from tiny_models import char_tokenizer  # tests/integration, on the path by tests/conftest.py
    from transformers import JambaConfig, JambaForCausalLM

    import sinkviz

    torch.manual_seed(0)
    config = JambaConfig(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, attn_layer_period=2, attn_layer_offset=1,
                         expert_layer_period=2, expert_layer_offset=1, num_experts=2, num_experts_per_tok=1,
                         mamba_d_state=4, mamba_d_conv=4, mamba_expand=2, mamba_dt_rank=4,
                         max_position_embeddings=128)
    assert config.layers_block_type == ["mamba", "attention"]
    model = JambaForCausalLM(config)
    return sinkviz.wrap(model, char_tokenizer(False), "tiny-jamba")


def test_figs25_27_path_on_a_hybrid_model_stops_at_load_with_an_error_naming_the_blocks():
    """The notebook's Jamba switch on a Mamba/attention hybrid: sinkviz numbers layers by block, so it refuses the
    model when it is loaded (naming the blocks without attention) instead of tracing block 1's attention as
    "layer 0" (which ``trace(layers=[0])`` did before the check)."""
    from sinkviz.errors import NoAttentionLayersError

    with pytest.raises(NoAttentionLayersError, match=r"hybrid: blocks \[0\] of 2 hold no softmax attention"):
        _tiny_jamba()


def test_blocks_without_attention_reads_the_block_types_of_hybrids_only():
    from types import SimpleNamespace

    from sinkviz.models import blocks_without_attention

    assert blocks_without_attention(SimpleNamespace(layers_block_type=["mamba", "attention", "mamba"])) == [0, 2]
    assert blocks_without_attention(SimpleNamespace(layer_types=["conv", "full_attention"])) == [0]  # LFM2
    assert blocks_without_attention(SimpleNamespace(layer_types=["linear_attention", "full_attention"])) == [0]
    # every block attends: Gemma3 / GPT-OSS alternate sliding and full attention; most configs name no types
    assert blocks_without_attention(SimpleNamespace(layer_types=["sliding_attention", "full_attention"])) == []
    assert blocks_without_attention(SimpleNamespace()) == []


def test_loading_a_hybrid_fails_on_its_config_before_any_weights_are_read(tmp_path):
    """A folder holding only a Jamba config (no weights, no tokenizer): ``sinkviz.load`` refuses it from the config
    alone, so that the notebook's JAMBA_MODEL switch does not download 52B parameters to reach the error."""
    from transformers import JambaConfig

    import sinkviz
    from sinkviz.errors import NoAttentionLayersError

    JambaConfig(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=4, num_attention_heads=4,
                num_key_value_heads=2, attn_layer_period=2, attn_layer_offset=1).save_pretrained(tmp_path)
    assert not any(p.suffix == ".safetensors" for p in tmp_path.iterdir())
    with pytest.raises(NoAttentionLayersError, match=r"hybrid: blocks \[0, 2\] of 4"):
        sinkviz.load(str(tmp_path), device="cpu", progress=False)


def _fake_lm_eval(monkeypatch, answer: dict) -> list:
    """A stand-in for lm-evaluation-harness: ``HFLM`` and ``simple_evaluate`` record their arguments in the
    returned list; ``simple_evaluate`` answers with ``answer`` as lm-eval's result dict holds it."""
    import types

    calls = []

    class HFLM:
        def __init__(self, **kwargs):
            calls.append(("HFLM", kwargs))

    def simple_evaluate(**kwargs):
        calls.append(("simple_evaluate", kwargs))
        return {"results": {"hellaswag": answer}}

    package = types.ModuleType("lm_eval")
    package.simple_evaluate = simple_evaluate
    models = types.ModuleType("lm_eval.models")
    huggingface = types.ModuleType("lm_eval.models.huggingface")
    huggingface.HFLM = HFLM
    package.models, models.huggingface = models, huggingface
    for name, module in (("lm_eval", package), ("lm_eval.models", models), ("lm_eval.models.huggingface", huggingface)):
        monkeypatch.setitem(sys.modules, name, module)
    return calls


def test_fig10_row_pairs_sink_1_with_hellaswag_accuracy_of_the_model_in_memory(monkeypatch, tmp_path):
    """Fig. 10's point for one model: Sink_1 on natural text as Table 1 measures it, and lm-eval's 0-shot HellaSwag
    acc / acc_norm of the SAME model object (wrapped by HFLM, not loaded again from its name)."""
    from tiny_models import save_tiny

    import sinkviz

    calls = _fake_lm_eval(monkeypatch, {"acc,none": 0.2875, "acc_norm,none": 0.3125, "acc_stderr,none": 0.01})
    loaded = sinkviz.load(str(save_tiny("llama", tmp_path / "llama")), device="cpu", progress=False)
    row = gu2025.fig10_row(loaded, T=16, n=4, batch_size=2, limit=20)
    expected_sink = gu2025.table1(loaded, T=16, n=4, kinds=("natural",), batch_size=2)["natural"]["sink_1"]
    assert row == {"model": loaded.name, "parameters": gu2025.n_parameters(loaded), "sink_1": expected_sink,
                   "acc": 0.2875, "acc_norm": 0.3125}
    (_, wrapped), (_, evaluated) = calls
    assert wrapped["pretrained"] is loaded.model and wrapped["tokenizer"] is loaded.tokenizer
    assert wrapped["batch_size"] == 2
    assert evaluated["tasks"] == ["hellaswag"] and evaluated["num_fewshot"] == 0 and evaluated["limit"] == 20


def test_hellaswag_accuracy_without_lm_eval_says_how_to_install_it(monkeypatch):
    from sinkviz.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "lm_eval", None)  # import lm_eval then raises ImportError
    with pytest.raises(MissingDependencyError, match="pip install lm-eval"):
        gu2025.hellaswag_accuracy(torch.nn.Linear(2, 2))
