"""Figure factories for paper A: they carry exactly the numbers they are given, in the paper style."""
import numpy as np
import plotly.graph_objects as go
import pytest

from sinkviz.metrics.manifold import first_key_offsubspace, key_pca
from sinkviz.metrics.norms import first_vs_rest_norms
from sinkviz.metrics.qk import qk_decomposition
from sinkviz.metrics.rope import rope_first_vs_rest, rope_plane_contributions
from sinkviz.plots import heatmaps, lines, manifold, qk, tables
from sinkviz.plots.style import TEMPLATE_NAME, save_figure, titled


def is_styled(fig):
    return isinstance(fig, go.Figure) and fig.layout.template.layout.paper_bgcolor == "white"


def test_titled_lists_model_setting_and_paper():
    t = titled("Fig. 3", model="smollm2-135m", setting="20 texts", paper="77.00", scaled_down=True)
    assert "smollm2-135m" in t and "20 texts" in t and "paper: 77.00" in t and "scaled down" in t
    assert titled("plain") == "plain"


def test_norms_figure_carries_profiles():
    rng = np.random.default_rng(0)
    p = first_vs_rest_norms(rng.random((5, 2, 6, 3)))
    fig = lines.norms_figure({"hidden": p, "keys": p}, x={"hidden": range(5)})
    assert is_styled(fig) and len(fig.data) == 4
    np.testing.assert_allclose(fig.data[0].y, p.first)
    np.testing.assert_allclose(fig.data[1].y, p.rest)
    assert list(fig.data[0].x) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="empty"):
        lines.norms_figure({})


def test_sink_vs_length_figure_shape_check_and_paper_points():
    vals = np.array([[90.0, 80.0], [70.0, 60.0]])
    fig = lines.sink_vs_length_figure([16, 64], [0.2, 0.3], vals, paper={64: 77.0})
    assert [tr.name for tr in fig.data] == ["ε = 0.2", "ε = 0.3", "paper (ε = 0.3)"]
    np.testing.assert_allclose(fig.data[1].y, [70.0, 60.0])
    with pytest.raises(ValueError, match="shape"):
        lines.sink_vs_length_figure([16, 64], [0.3], vals)


def test_sink_vs_params_measured_and_paper():
    fig = lines.sink_vs_params_figure(
        [{"name": "a", "params": 1e8, "sink": 50.0, "family": "F"}],
        paper_points=[{"name": "GPT2-XL", "params": 1.5e9, "sink": 77.0, "family": "GPT2"}])
    assert fig.layout.xaxis.type == "log"
    assert {tr.name for tr in fig.data} == {"F (measured)", "GPT2 (paper)"}


def test_massive_and_position_lines():
    fig = lines.massive_activation_figure({"a": [1.0, 5.0, 9.0]})
    np.testing.assert_allclose(fig.data[0].y, [1.0, 5.0, 9.0])
    fig = lines.sink_by_position_figure({"s": np.arange(20.0)}, max_k=10)
    assert list(fig.data[0].x) == list(range(1, 11))
    assert fig.layout.yaxis.range[0] <= 0 and fig.layout.yaxis.range[1] >= 9  # holds the shown values only
    # runs lying on the same values (all at 0 %) stay apart: each its own marker, smaller than the one beneath
    fig = lines.sink_by_position_figure({"a": np.zeros(10), "b": np.zeros(10), "c": np.zeros(10)})
    assert len({t.marker.symbol for t in fig.data}) == 3
    assert [t.marker.size for t in fig.data] == sorted((t.marker.size for t in fig.data), reverse=True)
    assert -0.1 < fig.layout.yaxis.range[0] <= 0 < fig.layout.yaxis.range[1]  # a share is never drawn below 0


def test_alpha_heatmaps():
    a = np.linspace(0, 1, 12).reshape(3, 4)
    fig = heatmaps.alpha_heatmap(a)
    np.testing.assert_allclose(fig.data[0].z, a)
    assert (fig.data[0].zmin, fig.data[0].zmax) == (0.2, 0.8)
    assert list(fig.data[0].y) == [1, 2, 3]
    grid = heatmaps.alpha_heatmap_grid({"m1": a, "m2": a[:2]})
    assert len(grid.data) == 2 and sum(bool(t.showscale) for t in grid.data) == 1
    with pytest.raises(ValueError, match="layers, heads"):
        heatmaps.alpha_heatmap(np.zeros(3))
    att = heatmaps.attention_heatmap(np.tril(np.ones((3, 3))) / 3, tokens=["a", "b", "c"])
    assert att.data[0].zmax is None or att.data[0].zmax <= 1


def test_qk_figures():
    rng = np.random.default_rng(1)
    q, k = rng.normal(size=(2, 6, 8))
    d = qk_decomposition(q, k)
    fig = qk.qk_heatmaps(d)
    assert len(fig.data) == 3
    np.testing.assert_allclose(fig.data[1].z, d.cos)
    assert fig.layout.coloraxis2.cmin == -1 and fig.layout.coloraxis2.cmax == 1
    grid = qk.qk_grid([("L1 h1", d), ("L2 h1", d)])
    assert len(grid.data) == 4
    with pytest.raises(ValueError, match="unknown panel"):
        qk.qk_heatmaps(d, panels=("logits",))
    first, rest = rope_first_vs_rest(rope_plane_contributions(q, k))
    rf = qk.rope_planes_figure({"h0": (first, rest)})
    np.testing.assert_allclose(rf.data[0].y, first)
    np.testing.assert_allclose(rf.data[1].y, rest)


def test_manifold_figures():
    rng = np.random.default_rng(2)
    keys = rng.normal(size=(3, 8, 6))
    fig = manifold.key_pca_figure([("L0 kv0", key_pca(keys))])
    stars = [t for t in fig.data if t.name == "k₁ (first token)"]
    assert len(stars) == 1 and len(stars[0].x) == 3
    off = first_key_offsubspace(keys, r=2)
    f2 = manifold.offsubspace_figure([0, 1], {"kv0": [off.first_mean, 0.5]}, {"kv0": [off.baseline_mean, 0.4]})
    assert len(f2.data) == 2


def test_tables():
    fig = tables.comparison_table(["model", "paper", "ours"], [["GPT2-XL", 77.0, None], ["x", float("nan"), 1.234]],
                                  highlight_cols=[2])
    cells = fig.data[0].cells.values
    assert list(cells[1]) == ["77.00", "–"] and list(cells[2]) == ["–", "1.23"]
    md = tables.table_markdown(["a", "b"], [["x", 1.0]])
    assert md.splitlines()[2] == "| x | 1.00 |"
    with pytest.raises(ValueError, match="cells"):
        tables.comparison_table(["a", "b"], [["x"]])


def test_save_figure_html_atomic(tmp_path, monkeypatch):
    fig = lines.massive_activation_figure({"a": [1.0, 2.0]})
    monkeypatch.delenv("SINKVIZ_FIGURES_DIR", raising=False)
    assert save_figure(fig, "x") == []
    out = save_figure(fig, "fig 3/ratio", tmp_path, formats=("html",))
    assert out == [tmp_path / "fig_3_ratio.html"]
    assert "<html>" in out[0].read_text() and not list(tmp_path.glob(".*"))
    monkeypatch.setenv("SINKVIZ_FIGURES_DIR", str(tmp_path / "env"))
    assert save_figure(fig, "y", formats=("html",))[0].parent == tmp_path / "env"
    assert fig.layout.template.layout.font.family.startswith("Liberation") and TEMPLATE_NAME
