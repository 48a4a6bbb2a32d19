"""The layer comparison figure (sinkviz.plots.layer_statistics) says where its layer counts start (issue 12)."""
from sinkviz.plots.layer_statistics import layer_comparison_figure


def _result() -> dict:
    layers = [0, 1, 2]
    per_layer = {l: [1.0, 2.0] for l in layers}
    pairs = [{"layer_a": a, "layer_b": b, "p": 0.04, "p_holm": 0.1} for a, b in ((0, 1), (0, 2), (1, 2))]
    return {"layers": layers,
            "published": {"betti0": per_layer, "dim0_avg_persistence": per_layer},
            "corrected": {"betti0@0.5": per_layer},
            "null": {"betti0": [3.0], "dim0_avg_persistence": [0.5]},
            "tests_published": {"betti0": pairs}, "tests_corrected": {"betti0@0.5": pairs}}


def test_layer_pair_tooltip_and_axes_name_their_base():
    fig = layer_comparison_figure(_result(), title="t")
    (heat,) = [t for t in fig.data if t.type == "heatmap"]
    assert list(heat.x) == ["0–1", "0–2", "1–2"]
    assert "layers %{x} (0-indexed)" in heat.hovertemplate and heat.hovertemplate.count("indexed") == 1
    assert fig.layout.xaxis.title.text == "layer (0-indexed)"
    assert fig.layout.xaxis3.title.text == "layer pair (0-indexed)"
