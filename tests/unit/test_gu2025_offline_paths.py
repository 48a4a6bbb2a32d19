"""The Gu et al. notebook's offline-disabled paths (``sinkviz/notebooks/gu2025_attention_sink.ipynb``, the cell after
"Fig. 10 ... Figs 25–27"), as far as package code carries them.

* Fig. 10 (Sink₁ against HellaSwag accuracy): ``gu2025.fig10_row`` / ``hellaswag_accuracy``, driven here with a
  fake ``lm_eval`` that records what it was given and answers with hand-picked accuracies.
* Figs 25–27 (Jamba α₁ per block and head): the notebook calls ``gu2025.importance_for(jamba, ids, batch_size=1)``,
  then ``sink.alpha_layer_head`` and ``heatmaps.alpha_heatmap``. The two last steps are checked on a hand-built α;
  all three on a tiny random Jamba (Mamba and attention blocks alternating), whose capture
  ``tests/integration/test_hybrid_models.py`` checks against eager attention.
"""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from sinkviz.metrics import sink as S
from sinkviz.papers import gu2025
from sinkviz.plots import heatmaps
from tiny_models import tiny_jamba


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


def test_figs25_27_on_a_hybrid_give_alpha_per_attention_block_with_its_block_number():
    """``gu2025.importance_for`` as the notebook calls it: α for the two attention blocks; the heat-map labels its
    rows with their 1-indexed block numbers (2 and 4), not 1 and 2."""
    from sinkviz.papers.probes import probe_inputs

    jamba = tiny_jamba()
    ids = probe_inputs(jamba.tokenizer, "natural", T=16, n=2).input_ids
    alpha = gu2025.importance_for(jamba, ids, batch_size=1)
    assert alpha.shape == (2, 2, 4, 16)
    import sinkviz

    tr = sinkviz.trace(jamba, ids)  # α_1 = mean over the queries of the attention paid to key 1 (all see it)
    first_column = np.stack([tr.attentions[layer][..., 0].numpy() for layer in (1, 3)], axis=1).mean(-1)
    np.testing.assert_allclose(alpha[..., 0], first_column, rtol=1e-5)
    fig = heatmaps.alpha_heatmap(S.alpha_layer_head(alpha), blocks=jamba.info.attention_layers, title="t")
    assert list(fig.data[0].y) == [2, 4] and fig.layout.yaxis.type == "category"
    np.testing.assert_allclose(np.asarray(fig.data[0].z, dtype=float), S.alpha_layer_head(alpha))
    with pytest.raises(ValueError, match="blocks has 1 entries for 2 rows"):
        heatmaps.alpha_heatmap(S.alpha_layer_head(alpha), blocks=[1])


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


def test_fig10_figure_draws_each_models_sink_1_and_accuracies_against_its_size():
    """The Fig. 10 figure from hand-built ``fig10_row`` results given out of order: Sink₁ left, acc and acc_norm (in
    %) right, every series sorted by parameters on a log axis, model names in the hover text."""
    from sinkviz.plots.lines import sink_and_accuracy_figure

    rows = [{"model": "big", "parameters": 4.1e8, "sink_1": 41.5, "acc": 0.412, "acc_norm": 0.525},
            {"model": "small", "parameters": 1.6e8, "sink_1": 20.25, "acc": 0.301, "acc_norm": 0.333}]
    fig = sink_and_accuracy_figure(rows, title="t")
    by_name = {t.name: t for t in fig.data}
    assert list(by_name) == ["Sink₁ (%)", "acc", "acc_norm"]
    for trace in fig.data:
        assert list(trace.x) == [1.6e8, 4.1e8] and list(trace.text) == ["small", "big"]
    assert list(by_name["Sink₁ (%)"].y) == [20.25, 41.5] and by_name["Sink₁ (%)"].xaxis == "x"
    assert list(by_name["acc"].y) == pytest.approx([30.1, 41.2]) and by_name["acc"].xaxis == "x2"
    assert list(by_name["acc_norm"].y) == pytest.approx([33.3, 52.5]) and by_name["acc_norm"].line.dash == "dash"
    assert fig.layout.xaxis.type == fig.layout.xaxis2.type == "log"
    assert fig.layout.yaxis.title.text == "Sink₁^ε (%)" and fig.layout.yaxis2.title.text == "accuracy (%)"
    with pytest.raises(ValueError, match="rows is empty"):
        sink_and_accuracy_figure([])
