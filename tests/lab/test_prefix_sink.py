"""The lab's prefix-LM Sink_k (Gu et al. 2025 Fig. 5 middle): published and corrected on a hand-built map."""
import numpy as np

from sinkviz.lab.evaluate import prefix_sink_summary


def test_prefix_sink_summary_reports_both_variants():
    # p = 2, T = 4; every query (query 0 included) puts 0.6 on key 1 and spreads the rest over what it sees
    a = np.zeros((4, 4))
    for t in range(4):
        seen = [j for j in range(4) if j <= t or j < 2]
        a[t, seen] = 0.4 / (len(seen) - 1)
        a[t, 1] = 0.6
    maps = np.broadcast_to(a, (3, 2, 2, 4, 4))  # (B, L, H, n, n)
    out = prefix_sink_summary(maps, prefix_length=2, eps=0.7, k_max=3)
    # key 1: column sum 2.4 over all 4 queries -> published 2.4 / 3 = 0.8 > 0.7, corrected 2.4 / 4 = 0.6
    assert out["sink_k_prefix_published"][1] == 100.0
    assert out["sink_k_prefix_corrected"][1] == 0.0
    assert len(out["sink_k_prefix_published_per_sample"]) == 3
    assert out["sink_k_prefix_corrected_per_sample"][0] == out["sink_k_prefix_corrected"]


def test_a_prefix_runs_headline_sink_reads_its_prefix_as_visible_to_every_query():
    """The headline Sink_k of a prefix-LM run is the corrected prefix score, not a causal reading that drops the
    prefix's forward attention (which the metrics now refuse)."""
    import pytest

    from sinkviz.lab.evaluate import sink_summary

    a = np.zeros((4, 4))
    for t in range(4):
        seen = [j for j in range(4) if j <= t or j < 2]
        a[t, seen] = 1.0 / len(seen)
    maps = np.broadcast_to(a, (2, 1, 1, 4, 4))
    headline = sink_summary(maps, slot=False, eps=0.3, k_max=4, prefix_length=2)
    assert headline["sink_k"] == prefix_sink_summary(maps, prefix_length=2, eps=0.3, k_max=4)["sink_k_prefix_corrected"]
    with pytest.raises(ValueError, match="prefix_length"):
        sink_summary(maps, slot=False, eps=0.3, k_max=4)
