"""What the Ruscio et al. head-map figures draw (``tests/integration/test_ruscio_analyses.py`` checks only that they
have traces): every heat-map cell, share and title number is the analysis' returned number, in the right panel,
layer row and head column.

Two sources: the analyses on the tiny random LLaMA of ``tiny_models`` (end to end), and a hand-built result of the
same shape whose numbers all differ, so that a panel drawn from the wrong variant, layer or head fails."""
from __future__ import annotations

import numpy as np
import pytest
from tiny_models import load_tiny, text

from sinkviz.papers import ruscio2025
from sinkviz.plots.head_maps import head_specialisation_figure, rmt_heads_figure

TEXTS = [text(6 + i % 5, i) for i in range(8)]


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    return ruscio2025.trace_texts(load_tiny("llama", tmp_path_factory), TEXTS, batch_size=4)


def _by_name(fig):
    return {t.name: t for t in fig.data if t.type == "scatter"}


def _heatmaps(fig):
    maps = [t for t in fig.data if t.type == "heatmap"]
    assert len(maps) == 2
    return maps


def _check_head_specialisation_figure(res, fig):
    """Every number the figure shows against ``res`` (a ``ruscio2025.head_specialisation`` result)."""
    layers, n_heads = list(res["layers"]), res["n_heads"]
    pub_map, cor_map = _heatmaps(fig)
    assert (pub_map.xaxis, cor_map.xaxis) == ("x", "x2")  # published left, corrected right
    for hm, variant in ((pub_map, res["published"]), (cor_map, res["corrected"])):
        np.testing.assert_array_equal(np.asarray(hm.z, dtype=float), np.asarray(variant["consistency"], dtype=float))
        assert list(hm.y) == [str(l) for l in layers] and list(hm.x) == list(range(n_heads))
        assert (hm.zmin, hm.zmax) == (0, 1)
    assert [list(row) for row in pub_map.text] == [[f"top token {t!r}" for t in row] for row in res["published"]["token"]]
    assert [list(row) for row in cor_map.text] == [
        ["no sink" if p is None else f"top position {p}" for p in row] for row in res["corrected"]["position"]]
    lines = _by_name(fig)
    assert list(lines)[:3] == ["sinkviz published", "sinkviz corrected", "null: published rule, uniform attention"]
    depth = max(1, res["n_layers"] - 1)  # l / (L − 1) over the model's blocks, as the axis title says
    for name in list(lines)[:3]:
        assert list(lines[name].x) == pytest.approx([l / depth for l in layers]), name
        assert list(lines[name].customdata) == layers, name
        assert lines[name].xaxis == "x3", name
    assert list(lines["sinkviz published"].y) == pytest.approx([res["published"]["count"][l] / n_heads for l in layers])
    assert list(lines["sinkviz corrected"].y) == pytest.approx([res["corrected"]["count"][l] / n_heads for l in layers])
    null_share = res["null"]["published_total"] / (n_heads * len(layers))
    assert list(lines["null: published rule, uniform attention"].y) == pytest.approx([null_share] * len(layers))
    titles = [a.text for a in fig.layout.annotations]
    assert f"published: by token string ({res['published']['total']} specialised)" in titles
    assert f"corrected: by position, sinks only ({res['corrected']['total']})" in titles
    assert fig.layout.xaxis.title.text == "head (0-indexed)" and fig.layout.yaxis.title.text == "layer (0-indexed)"
    assert fig.layout.xaxis3.title.text == "relative depth l / (L − 1)"
    assert fig.layout.yaxis3.title.text == "share of heads"


def test_head_specialisation_figure_draws_the_analysis_of_the_tiny_model(traces):
    res = ruscio2025.head_specialisation(traces, [0, 1, 2])
    _check_head_specialisation_figure(res, head_specialisation_figure(res, title="t"))
    # what the tiny random model gives: position 0 is every head's top key, its string differs per text
    # (8 texts, 8 first letters: consistency 1/8), and no head has a real sink
    assert np.all(res["published"]["consistency"] == 0.125) and res["published"]["total"] == 0
    assert np.all(res["corrected"]["consistency"] == 0.0) and res["corrected"]["total"] == 0


def test_head_specialisation_figure_with_a_looser_rule_counts_every_head(traces):
    """Lowering the rule below 1/8 makes every head "specialised" by token string: shares of 1, not 0."""
    res = ruscio2025.head_specialisation(traces, [0, 1, 2], min_consistency=0.1, min_samples=1)
    fig = head_specialisation_figure(res, title="t")
    _check_head_specialisation_figure(res, fig)
    assert res["published"]["total"] == 12 and res["corrected"]["total"] == 0
    lines = _by_name(fig)
    assert list(lines["sinkviz published"].y) == [1.0, 1.0, 1.0]
    assert list(lines["sinkviz corrected"].y) == [0.0, 0.0, 0.0]
    assert list(lines["sinkviz published"].x) == [0.0, 0.5, 1.0]


def _hand_built_result():
    layers, n_heads = [0, 3, 6], 4
    pub = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8], [0.9, 0.35, 0.45, 0.55]])
    cor = np.array([[0.0, 0.05, 0.15, 0.25], [0.31, 0.41, 0.51, 0.61], [0.71, 0.81, 0.91, 0.99]])
    return {
        "layers": layers, "n_layers": 7, "n_heads": n_heads, "n_samples": 10, "min_consistency": 0.3, "min_samples": 5,
        "published": {"consistency": pub, "token": [[f"t{l}{h}" for h in range(n_heads)] for l in layers],
                      "specialised": pub >= 0.3, "count": {0: 2, 3: 4, 6: 4}, "total": 10,
                      "count_half": {0: 0, 3: 4, 6: 2}},
        "corrected": {"consistency": cor, "position": [[None, 1, 2, 3], [0, 0, None, 5], [0, 0, 0, 0]],
                      "specialised": cor >= 0.3, "count": {0: 0, 3: 4, 6: 4}, "total": 8},
        "null": {"published_consistency": 1.0, "published_token": "<s>", "published_total": 6, "corrected_total": 0},
    }


def test_head_specialisation_figure_puts_each_number_in_its_panel_row_and_column():
    res = _hand_built_result()
    fig = head_specialisation_figure(res, authors={"Llama (authors)": {"layers": [0, 15, 31], "n_layers": 32,
                                                                       "shares": [0.25, 0.5, 0.75]}}, title="t")
    _check_head_specialisation_figure(res, fig)
    pub_map, cor_map = _heatmaps(fig)
    assert pub_map.z[1][2] == 0.7 and cor_map.z[1][2] == 0.51  # layer 3, head 2 of each variant
    assert pub_map.text[2][0] == "top token 't60'" and cor_map.text[0][0] == "no sink"
    assert cor_map.text[1][3] == "top position 5"
    lines = _by_name(fig)
    assert list(lines["sinkviz published"].y) == [0.5, 1.0, 1.0]
    assert list(lines["sinkviz corrected"].y) == [0.0, 1.0, 1.0]
    assert list(lines["null: published rule, uniform attention"].y) == [0.5, 0.5, 0.5]  # 6 of 3 x 4 heads
    assert list(lines["sinkviz published"].x) == [0.0, 0.5, 1.0]
    authors = lines["Llama (authors)"]
    assert list(authors.x) == pytest.approx([0.0, 15 / 31, 1.0]) and list(authors.y) == [0.25, 0.5, 0.75]
    titles = [a.text for a in fig.layout.annotations]
    assert "published: by token string (10 specialised)" in titles and "corrected: by position, sinks only (8)" in titles


def test_rmt_heads_figure_draws_the_analysis_numbers(traces):
    rh = ruscio2025.rmt_heads(traces, [0, 2])
    fig = rmt_heads_figure(rh, title="t")
    maps = [t for t in fig.data if t.type == "heatmap"]
    assert len(maps) == 3
    gap, finite, ks = maps
    np.testing.assert_allclose(np.asarray(gap.z, dtype=float), np.log10(rh["published"]["spectral_gap"]))
    np.testing.assert_array_equal(np.asarray(finite.z, dtype=float), np.asarray(rh["published"]["finite_kl"], float))
    np.testing.assert_allclose(np.asarray(ks.z, dtype=float), rh["corrected"]["ks_minus_null"])
    assert list(gap.y) == ["0", "2"] and list(gap.x) == [0, 1, 2, 3]
    lim = float(np.nanmax(np.abs(rh["corrected"]["ks_minus_null"])))
    assert (ks.zmin, ks.zmax) == pytest.approx((-lim, lim)) and (finite.zmin, finite.zmax) == (0, 1)
    null = rh["null"]["random"]["corrected_marchenko_pastur_ks"]
    titles = [a.text for a in fig.layout.annotations]
    assert f"corrected MP-KS − null ({null:.2f})" in titles
    assert "published spectral gap |λ₁|/|λ₂| (log₁₀)" in titles and "published: share of finite MP-KL" in titles


def test_head_specialisation_depth_counts_the_models_blocks_not_the_layers_selected(traces):
    """Layers 0 and 1 of the 3-block tiny model sit at relative depth 0 and 0.5 (l / (L − 1), as the authors'
    points and the axis title): dividing by the largest selected layer drew them at 0 and 1."""
    res = ruscio2025.head_specialisation(traces, [0, 1])
    assert res["n_layers"] == 3
    fig = head_specialisation_figure(res, title="t")
    _check_head_specialisation_figure(res, fig)
    assert list(_by_name(fig)["sinkviz published"].x) == [0.0, 0.5]
