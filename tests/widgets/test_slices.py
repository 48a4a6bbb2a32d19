"""What the explorer draws, on hand-built matrices with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from sinkviz.widgets._slices import first_token_importance, head_map, pool_max, token_labels


def causal_uniform(n: int) -> np.ndarray:
    """Row t attends uniformly to keys 0..t."""
    a = np.tril(np.ones((n, n)))
    return a / a.sum(1, keepdims=True)


def test_alpha1_is_mean_of_column_zero_over_queries_that_see_it():
    n = 4
    uniform = causal_uniform(n)  # column 0 gets 1, 1/2, 1/3, 1/4
    sink = np.zeros((n, n))
    sink[:, 0] = 1.0  # every query attends only to key 0
    layers = [np.stack([uniform, sink]), np.stack([sink, uniform])]
    alpha = first_token_importance(layers, causal=True)
    expected_uniform = (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4
    np.testing.assert_allclose(alpha, [[expected_uniform, 1.0], [1.0, expected_uniform]], rtol=1e-6)


def test_alpha1_bidirectional_uses_all_queries():
    a = np.array([[[0.5, 0.25, 0.25], [0.2, 0.4, 0.4], [0.2, 0.4, 0.4]]])  # rows sum to 1
    assert first_token_importance([a], causal=False)[0, 0] == pytest.approx(0.3)


def test_causal_map_hides_the_upper_triangle():
    a = causal_uniform(5)
    view = head_map(a, list("abcde"), causal=True)
    assert np.isnan(view.z[np.triu_indices(5, 1)]).all()
    np.testing.assert_allclose(view.z[np.tril_indices(5)], a[np.tril_indices(5)], rtol=1e-6)
    assert (view.zmin, view.zmax) == (0.0, 1.0)
    assert view.note == ""


def test_encoder_map_shows_everything_and_sliding_window_masks():
    a = np.full((4, 4), 0.25)
    assert not np.isnan(head_map(a, list("abcd"), causal=False).z).any()
    window = np.abs(np.subtract.outer(np.arange(4), np.arange(4))) < 2
    z = head_map(a, list("abcd"), causal=False, visible=window).z
    assert np.isnan(z[0, 2]) and not np.isnan(z[0, 1])


def test_logits_minus_inf_are_hidden_and_scale_is_their_range():
    logits = np.array([[2.0, -np.inf], [-1.0, 3.0]])
    view = head_map(logits, ["x", "y"], causal=True, values="logits")
    assert np.isnan(view.z[0, 1])
    assert (view.zmin, view.zmax) == (-1.0, 3.0)
    assert view.colorbar_title == "logit"


def test_scales():
    a = causal_uniform(4)
    assert head_map(a, list("abcd"), causal=True, scale="0-max").zmax == pytest.approx(1.0)
    half = a * 0.5
    assert head_map(half, list("abcd"), causal=True, scale="0-max").zmax == pytest.approx(0.5)
    log = head_map(a, list("abcd"), causal=True, scale="log10")
    assert log.z[1, 1] == pytest.approx(np.log10(0.5))
    assert (log.zmin, log.zmax) == (-6.0, 0.0)


def test_pool_max_known_answer_keeps_a_sink_column():
    a = np.arange(16, dtype=np.float32).reshape(4, 4)
    np.testing.assert_array_equal(pool_max(a, 2), [[5, 7], [13, 15]])
    sink = np.zeros((6, 6), dtype=np.float32)
    sink[:, 0] = 0.9
    pooled = pool_max(sink, 4)  # ragged edge: 6 -> 2 blocks
    assert pooled.shape == (2, 2)
    np.testing.assert_allclose(pooled[:, 0], 0.9)
    nan_block = np.full((2, 2), np.nan, dtype=np.float32)
    assert np.isnan(pool_max(nan_block, 2)).all()


def test_long_map_is_pooled_and_says_so():
    n = 1100
    a = causal_uniform(n).astype(np.float32)
    view = head_map(a, [f"t{i}" for i in range(n)], causal=True)
    factor = int(np.ceil(n / 512))
    assert view.z.shape == (int(np.ceil(n / factor)),) * 2
    assert "max-pooled" in view.note and str(n) in view.note
    assert len(view.x_labels) == view.z.shape[1]
    assert view.z[0, 0] == pytest.approx(1.0)  # the max of the first block is query 0's full weight on key 0


def test_window_display():
    n = 40
    a = causal_uniform(n)
    view = head_map(a, [f"t{i}" for i in range(n)], causal=True, display="window", window_start=30, window=16)
    assert view.z.shape == (16, 16)  # clipped to the end: tokens 24..39
    assert view.x_labels[0].startswith("24 ")
    assert "window" in view.note
    assert view.z[0, 0] == pytest.approx(a[24, 24])


def test_labels_unique_escaped_and_whitespace_visible():
    labels = token_labels(["a", "a", " b", "<s>", "\n"])
    assert len(set(labels)) == 5
    assert labels[2] == "2 \u2423b"
    assert labels[3] == "3 &lt;s&gt;"
    assert labels[4] == "4 \u21b5"


def test_bad_shapes():
    with pytest.raises(ValueError, match="square"):
        head_map(np.zeros((2, 3)), ["a", "b"], causal=True)
    with pytest.raises(ValueError, match="tokens"):
        head_map(np.zeros((2, 2)), ["a"], causal=True)
    with pytest.raises(ValueError, match="heads, n, n"):
        first_token_importance([np.zeros((2, 2))], causal=True)


def test_tick_labels_are_thinned_by_length_and_cut_short():
    from sinkviz.widgets._slices import TICK_LABEL_CHARS, short_label, tick_step

    assert tick_step(10, 460) == 1 and tick_step(60, 460) == 2 and tick_step(300, 460) == 9
    assert tick_step(2000, 460) == 57
    assert tick_step(300, 460, "all") == 1 and tick_step(300, 460, "none") == 0 and tick_step(300, 460, 5) == 5
    with pytest.raises(ValueError, match="label density"):
        tick_step(300, 460, "some")
    assert short_label("12 \u2423attention") == "12 \u2423attention"
    cut = short_label("1024\u20131027 \u2423something\u2026")
    assert len(cut) == TICK_LABEL_CHARS and cut.endswith("\u2026")


@pytest.mark.parametrize("n", [10, 60, 300, 2000])
def test_map_figure_ticks_never_overlap_on_screen(n):
    from sinkviz.widgets._figures import MAP_PLOT_PX, map_figure
    from sinkviz.widgets._slices import TICK_LABEL_CHARS

    a = np.tril(np.ones((n, n)))
    view = head_map(a / a.sum(1, keepdims=True), [f" tok{i}" for i in range(n)], causal=True)
    fig = map_figure(view, "m<br>layer 0, head 0")
    cells = len(view.x_labels)
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        shown = list(axis.tickvals)
        gap = view.x_labels.index(shown[1]) - view.x_labels.index(shown[0]) if len(shown) > 1 else cells
        assert MAP_PLOT_PX * gap / cells >= 13  # px between neighbouring labels
        assert all(len(t) <= TICK_LABEL_CHARS for t in axis.ticktext)
    assert fig.data[0].x == tuple(view.x_labels)  # the hover keeps every full label
    none = map_figure(view, "m", labels="none")
    assert none.layout.xaxis.showticklabels is False
    if view.note:
        note = fig.layout.annotations[0]
        assert note.name == "sinkviz-note" and note.y == 1 and note.yanchor == "bottom"  # above the plot
