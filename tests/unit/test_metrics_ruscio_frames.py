"""Reference-frame classifier (sinkviz rule for Ruscio et al. 2025, documented in sinkviz.metrics.frames)."""
import numpy as np
import pytest

from sinkviz.metrics import toy_attention as toy
from sinkviz.metrics.frames import (
    FrameThresholds,
    classify_frames,
    frame_statistics_over_training,
    head_sinks,
    uniform_column_share,
)


def _stack(maps_by_layer):
    """list over layers of list over heads of (n, n) -> (L, H, n, n)."""
    return np.stack([np.stack(heads) for heads in maps_by_layer])


def _end_sink(n):
    a = np.zeros((n, n))
    a[:, n - 1] = 1.0
    return a


def _interior_sink(n, j):
    a = np.zeros((n, n))
    a[:, j] = 1.0
    return a


def test_uniform_column_share_matches_brute_force():
    n = 7
    np.testing.assert_allclose(uniform_column_share(n, True), toy.uniform_causal_attention(n).mean(axis=0))
    np.testing.assert_allclose(uniform_column_share(n, False), toy.uniform_attention(n).mean(axis=0))


def test_star_is_centralized_with_evidence():
    n = 10
    samples = [head_sinks(_stack([[toy.star_attention(n)] * 3] * 4), causal=True, tokens=[f"w{s}"] + ["x"] * (n - 1))
               for s in range(5)]
    hs = samples[0]
    assert np.all(hs.top_position == 0)
    np.testing.assert_allclose(hs.excess, 1.0 / uniform_column_share(n, True)[0])
    v = classify_frames(samples)
    assert v.label == "centralized"
    assert all(lf.label == "centralized" and lf.anchor == "start" for lf in v.layers)
    assert v.layers[0].shares == {"start": 1.0, "end": 0.0, "interior": 0.0}
    assert v.layers[0].frame_top_rate == 1.0
    assert "4/4 layers" in v.reason
    # no BOS: each sample starts with a different word -> by string the same heads look distributed
    assert v.string_label == "distributed"
    assert v.layers[0].string_share == pytest.approx(0.2)
    assert v.layers[0].position_consistency == 1.0


def test_uniform_causal_has_no_sink():
    samples = [head_sinks(_stack([[toy.uniform_causal_attention(9)] * 2] * 3), causal=True)]
    np.testing.assert_allclose(samples[0].excess, 1.0)
    v = classify_frames(samples)
    assert v.label == "undetermined"
    assert all(lf.label == "no-sink" for lf in v.layers)


def test_encoder_dual_anchor_layers_are_bidirectional():
    n = 8
    start, end = toy.star_attention(n), _end_sink(n)
    layer_dual = [start, start, end, end]
    sample = _stack([layer_dual, layer_dual, layer_dual])
    samples = [head_sinks(sample, causal=False, special_positions=(0, n - 1)) for _ in range(3)]
    v = classify_frames(samples)
    assert all(lf.label == "bidirectional" and lf.anchor == "start+end" for lf in v.layers)
    assert v.label == "bidirectional"


def test_layer_specialisation_start_then_end_is_bidirectional():
    n = 8
    start, end = toy.star_attention(n), _end_sink(n)
    sample = _stack([[start] * 4, [start] * 4, [end] * 4, [end] * 4, [end] * 4])
    v = classify_frames([head_sinks(sample, causal=False)])
    assert [lf.anchor for lf in v.layers] == ["start", "start", "end", "end", "end"]
    assert v.label == "bidirectional"


def test_special_final_token_makes_penultimate_an_end_anchor():
    n = 8
    dot = _interior_sink(n, n - 2)  # "." before [SEP]
    sample = _stack([[dot] * 4])
    with_sep = classify_frames([head_sinks(sample, causal=False, special_positions=(0, n - 1))])
    without = classify_frames([head_sinks(sample, causal=False)])
    assert with_sep.layers[0].anchor == "end"
    assert without.layers[0].label == "distributed" and without.layers[0].shares["interior"] == 1.0


def test_interior_varying_sinks_are_distributed():
    n = 10
    samples = []
    for s in range(4):
        sample = _stack([[_interior_sink(n, 2 + (s + h) % 5) for h in range(4)] for _ in range(3)])
        samples.append(head_sinks(sample, causal=False))
    v = classify_frames(samples)
    assert v.label == "distributed"
    assert all(lf.shares["interior"] == 1.0 for lf in v.layers)


def test_mostly_central_with_one_end_layer_stays_centralized():
    n = 8
    sample = _stack([[toy.star_attention(n)] * 2] * 9 + [[_end_sink(n)] * 2])
    v = classify_frames([head_sinks(sample, causal=False)])
    assert v.label == "centralized"  # end anchor in 1/10 layers < 0.2


def test_thresholds_are_configurable_and_recorded():
    n = 8
    mixed = [toy.star_attention(n)] * 3 + [_interior_sink(n, 3)]
    sample = _stack([mixed])
    strict = classify_frames([head_sinks(sample, causal=False)])
    loose = classify_frames([head_sinks(sample, causal=False)], FrameThresholds(anchor_share=0.7))
    assert strict.layers[0].label == "distributed" and loose.layers[0].label == "centralized"
    assert loose.thresholds.anchor_share == 0.7


def test_frames_over_training_steps():
    n = 9
    early = [head_sinks(_stack([[toy.uniform_causal_attention(n)] * 2] * 2), causal=True)]
    late = [head_sinks(_stack([[toy.star_attention(n)] * 2] * 2), causal=True)]
    rows = frame_statistics_over_training([early, late], [0, 1000])
    assert [r["step"] for r in rows] == [0, 1000]
    assert rows[0]["label"] == "undetermined" and rows[0]["frame_top_rate"] == 0.0
    assert rows[1]["label"] == "centralized" and rows[1]["start_share"] == 1.0
    with pytest.raises(ValueError, match="steps"):
        frame_statistics_over_training([early], [0, 1])


def test_bad_inputs():
    with pytest.raises(ValueError, match="tokens"):
        head_sinks(np.zeros((1, 1, 3, 3)) + 1 / 3, causal=False, tokens=["a", "b"])
    with pytest.raises(ValueError, match="at least one"):
        classify_frames([])
