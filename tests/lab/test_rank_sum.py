"""``results.rank_sum_p``: the exact rank-sum p-value on hand-counted cases, against scipy, and its errors."""

from __future__ import annotations

import random

import pytest

from sinkviz.lab.results import rank_sum_p


def test_hand_counted_splits():
    # one value above two controls: U = 2; the three splits give U = 0, 1, 2, so P(U >= 2) = 1/3, P(U <= 2) = 1
    assert rank_sum_p([3.0], [1.0, 2.0], "greater") == pytest.approx(1 / 3)
    assert rank_sum_p([3.0], [1.0, 2.0], "less") == 1.0
    assert rank_sum_p([3.0], [1.0, 2.0], "two-sided") == pytest.approx(2 / 3)
    # two values below four controls: the lowest of C(6, 2) = 15 splits, p = 1/15
    assert rank_sum_p([0.1, 0.2], [1, 2, 3, 4]) == pytest.approx(1 / 15)
    # every value equal: each split has U = n·m/2, so no split is more extreme
    assert rank_sum_p([5, 5], [5, 5, 5]) == rank_sum_p([5, 5], [5, 5, 5], "greater") == 1.0


def test_ties_count_half_in_every_split():
    # values [1, 2] against [2, 3]: U = 0.5 (1 < 2, 1 < 3, 2 = 2 counts ½, 2 < 3); of the six ways to pick two of
    # {1, 2, 2, 3}, two give U = 0.5 (either 2 beside the 1), two U = 2, two U = 3.5: P(U <= 0.5) = 2/6
    pooled = [1, 2, 2, 3]
    splits = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]

    def u(picked):
        rest = [j for j in range(4) if j not in picked]
        return sum((pooled[i] > pooled[j]) + 0.5 * (pooled[i] == pooled[j]) for i in picked for j in rest)

    values = [u(s) for s in splits]
    assert sorted(values) == [0.5, 0.5, 2.0, 2.0, 3.5, 3.5]
    assert rank_sum_p([1, 2], [2, 3]) == pytest.approx(2 / 6)


def test_matches_scipy_exact_without_ties():
    from scipy import stats as scipy_stats  # scikit-learn's dependency: installed wherever sinkviz is

    rng = random.Random(0)
    for _ in range(60):
        values = [rng.random() for _ in range(rng.randint(1, 5))]
        controls = [rng.random() for _ in range(rng.randint(1, 7))]
        for alternative in ("less", "greater", "two-sided"):
            expected = scipy_stats.mannwhitneyu(values, controls, alternative=alternative, method="exact").pvalue
            assert rank_sum_p(values, controls, alternative) == pytest.approx(expected, abs=1e-12)


def test_bad_input_says_what_was_wrong():
    with pytest.raises(ValueError, match="alternative must be"):
        rank_sum_p([1.0], [2.0], "lower")
    with pytest.raises(ValueError, match="at least one value on each side"):
        rank_sum_p([], [2.0])
    with pytest.raises(ValueError, match="asymptotic"):
        rank_sum_p(list(range(12)), list(range(12)))
