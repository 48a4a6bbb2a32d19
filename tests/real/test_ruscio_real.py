"""Reference frames and the published topology artefact on the embedded real models (Ruscio et al. 2025)."""
from __future__ import annotations

import numpy as np
import pytest

import sinkviz
from sinkviz.papers import ruscio2025

pytestmark = pytest.mark.real

N_TEXTS = 16


def _check_evidence(v) -> None:
    """Every layer's label follows from its own numbers under the recorded thresholds, and the model
    verdict from the layer labels."""
    thr = v.thresholds
    for lf in v.layers:
        assert 0.0 <= lf.frame_top_rate <= 1.0
        if lf.frame_top_rate > 0:
            assert sum(lf.shares.values()) == pytest.approx(1.0)
        if lf.frame_top_rate < thr.min_frame_top_rate:
            assert lf.label == "no-sink"
            continue
        top = max(lf.shares["start"], lf.shares["end"])
        low = min(lf.shares["start"], lf.shares["end"])
        if lf.label == "centralized":
            assert top >= thr.anchor_share and lf.shares[lf.anchor] == top
        elif lf.label == "bidirectional":
            assert top < thr.anchor_share and low >= thr.dual_min and top + low >= thr.anchor_share
        else:
            assert lf.label == "distributed" and top < thr.anchor_share
            assert not (low >= thr.dual_min and top + low >= thr.anchor_share)
    sinky = [lf for lf in v.layers if lf.label != "no-sink"]
    assert v.counts["no-sink"] == len(v.layers) - len(sinky)
    if v.label == "centralized":
        anchors = [lf.anchor for lf in sinky if lf.label == "centralized"]
        best = max(set(anchors), key=anchors.count)
        assert anchors.count(best) / len(sinky) >= thr.model_majority
        assert f"'{best}'" in v.reason


@pytest.fixture(scope="module")
def texts():
    return ruscio2025.stem_texts(N_TEXTS)


def test_smollm2_is_centralized_by_position_distributed_by_string(texts):
    m = sinkviz.load("smollm2-135m")
    traces = ruscio2025.trace_texts(m, texts, batch_size=8)
    v = ruscio2025.frame_verdict(traces)
    print("\nSmolLM2 verdict:", v.label, "|", v.reason, "| by string:", v.string_label)
    _check_evidence(v)
    assert v.label == "centralized"
    assert "'start'" in v.reason
    # no BOS: the sink is the first word, whose string changes with the sentence
    assert v.string_label == "distributed"
    central = [lf for lf in v.layers if lf.label == "centralized"]
    assert all(lf.position_consistency > lf.string_consistency for lf in central)
    # the published topology artefact on the real decoder: "Betti0" is the token count, Betti1 is 0
    topo = ruscio2025.topology_by_layer(traces, ruscio2025.paper_layers(m.info.n_layers))
    for layer, res in topo.items():
        np.testing.assert_array_equal(res["published"]["betti0"], np.minimum(res["published"]["n_tokens"], 30))
        assert set(res["published"]["betti1"]) == {0.0}
        assert np.mean(res["corrected"]["betti0@0.9"]) < np.mean(res["published"]["betti0"])


def test_minilm_verdict_reported_with_consistent_evidence(texts):
    m = sinkviz.load("minilm-l6")
    traces = ruscio2025.trace_texts(m, texts, batch_size=8)
    v = ruscio2025.frame_verdict(traces)
    print("\nMiniLM verdict:", v.label, "|", v.reason, "| by string:", v.string_label)
    for row in v.layer_table():
        print(row)
    _check_evidence(v)
    assert v.label in ("centralized", "distributed", "bidirectional", "undetermined")
    assert len(v.layers) == m.info.n_layers
    s = next(ruscio2025.iter_samples(traces))
    assert s.tokens[0] == "[CLS]" and s.tokens[-1] == "[SEP]" and s.special_positions == [0, len(s.tokens) - 1]
