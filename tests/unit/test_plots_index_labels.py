"""One indexing convention, said on every figure: Gu et al.'s figures count blocks, heads, tokens and planes from
1, Ruscio et al.'s layers from 0, and every axis or hover that carries an index says which."""
import numpy as np
import pytest

from sinkviz.metrics.norms import NormProfile
from sinkviz.metrics.qk import qk_decomposition
from sinkviz.plots import heatmaps, layer_profiles, lines, manifold, qk
from sinkviz.plots.style import EXPLORER_BASE, GU_BASE, RUSCIO_BASE, index_label


def test_index_label_forms():
    assert index_label("block", base=1) == "block (1-indexed)"
    assert index_label("block", 17, base=1) == "block 18 (1-indexed)"
    assert index_label("layer", np.int64(3), base=0) == "layer 3 (0-indexed)"
    assert index_label(("block", "head"), (17, 7), base=1) == "block 18, head 8 (1-indexed)"
    assert index_label("block", "%{y}", base=1) == "block %{y} (1-indexed)"
    assert index_label("key", 0, base=1, tag=False) == "key 1"
    assert (GU_BASE, RUSCIO_BASE, EXPLORER_BASE) == (1, 0, 0)
    with pytest.raises(ValueError, match="base"):
        index_label("block", base=2)
    with pytest.raises(ValueError, match="2 names for 1"):
        index_label(("block", "head"), 3, base=1)


def test_alpha_heatmap_counts_blocks_and_heads_from_one():
    fig = heatmaps.alpha_heatmap(np.full((3, 4), 0.5))
    trace = fig.data[0]
    assert list(trace.x) == [1, 2, 3, 4] and list(trace.y) == [1, 2, 3]
    assert fig.layout.xaxis.title.text == "head (1-indexed)" and fig.layout.yaxis.title.text == "block (1-indexed)"
    assert "block %{y}, head %{x} (1-indexed)" in trace.hovertemplate
    grid = heatmaps.alpha_heatmap_grid({"a": np.zeros((2, 2)), "b": np.zeros((2, 2))})
    assert grid.layout.yaxis.title.text == "block (1-indexed)" and grid.layout.xaxis2.title.text == "head (1-indexed)"
    assert "(0-indexed)" in heatmaps.attention_heatmap(np.eye(3)).layout.xaxis.title.text


def test_qk_heatmaps_say_their_base():
    rng = np.random.default_rng(0)
    d = qk_decomposition(rng.normal(size=(5, 4)), rng.normal(size=(5, 4)), causal=True)
    gu = qk.qk_heatmaps(d)
    assert list(gu.data[0].x) == [1, 2, 3, 4, 5] and "(1-indexed)" in gu.data[0].hovertemplate
    assert gu.layout.xaxis.title.text == "key j (1-indexed)" and gu.layout.yaxis.title.text == "query t (1-indexed)"
    explorer = qk.qk_heatmaps(d, base=0)
    assert list(explorer.data[0].x) == [0, 1, 2, 3, 4] and explorer.layout.xaxis.title.text == "key j (0-indexed)"
    grid = qk.qk_grid([(index_label(("block", "head"), (4, 0), base=1), d)])
    assert grid.layout.annotations[0].text.startswith("block 5, head 1 (1-indexed)")


def test_rope_planes_one_convention():
    fig = qk.rope_planes_figure({index_label(("block", "head"), (17, 7), base=1): (np.ones(3), np.zeros(3))},
                                frequencies=np.array([1.0, 0.1, 0.01]))
    assert fig.layout.annotations[0].text == "block 18, head 8 (1-indexed)"
    assert list(fig.data[0].x) == ["1", "2", "3"] and fig.data[0].name == "toward key 1 (the first)"
    assert fig.layout.xaxis.type == "category"  # so a trailing "pass" entry is drawn, not dropped
    assert fig.layout.xaxis.title.text.startswith("rotation plane i (1-indexed); plane 1 rotates fastest")


def test_gu_line_figures_and_manifold_say_blocks_from_one():
    prof = NormProfile(first=np.ones(3), rest=np.ones(3), per_token=np.ones((3, 4)))
    norms = lines.norms_figure({"hidden": prof, "keys": prof}, x={"hidden": [0, 1, 2], "keys": [1, 2, 3]})
    assert norms.layout.xaxis.title.text == "block (1-indexed); 0 = embeddings"
    assert norms.layout.xaxis2.title.text == "block (1-indexed)"
    assert "(1-indexed)" in lines.massive_activation_figure({"m": [1.0, 2.0]}).layout.xaxis.title.text
    assert lines.sink_by_position_figure({"m": [1.0, 2.0]}).layout.xaxis.title.text == "token position k (1-indexed)"
    off = manifold.offsubspace_figure([0, 1], {"KV head 1 (1-indexed)": [0.5, 0.6]}, {})
    assert list(off.data[0].x) == [1, 2] and off.layout.xaxis.title.text == "block (1-indexed)"


def test_ruscio_layer_figures_say_layers_from_zero():
    rows = [{"layer": l, "variant": "published", "metric": "m", "mean": 1.0, "sd": 0.0} for l in (0, 3)]
    fig = layer_profiles.layer_profile_figure(rows, [("m", [("published", "m", "published")])], n_layers=4)
    assert "layer %{customdata} (0-indexed)" in fig.data[0].hovertemplate
    assert "0-indexed" in fig.layout.xaxis.title.text
