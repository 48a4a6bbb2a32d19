"""The census result: per-sample and summed statistics per layer and query head, Sink_k, merging and files.

Definitions (Gu et al. 2025, "When attention sink emerges in language models", §3.2):

* importance score of key k:  alpha_k = 1 / n_k * sum_{i sees k} A_{i,k}, with n_k the number of (valid) queries allowed
  to see k (T - k for a causal model with 0-indexed k; fewer under a sliding window; T for an encoder);
* Sink_k^eps = mean over samples, layers and query heads of 1(alpha_k > eps), in % (strict >, as the official code).

Sink_k is :func:`sinkviz.metrics.sink.sink_rate` of the stored alpha; the census only keeps alpha for the first
``n_keys`` keys of each sample, and every key's alpha summed over samples.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from sinkviz._files import atomic_write
from sinkviz.metrics.sink import PAPER_EPS, sink_rate

#: Row statistics averaged per sample and, in query-position bins, summed over samples.
PROFILE_NAMES = ("entropy", "row_max", "first_mass")
#: Per-sample arrays (concatenated when partial results merge).
SAMPLE_FIELDS = ("alpha", *PROFILE_NAMES, "lengths", "sample_index")
#: Arrays summed over samples (added when partial results merge).
SUM_FIELDS = ("alpha_sum", "alpha_n", "colsum_sum", "count_sum", "profile_sum", "profile_n")
_SETTINGS = ("layers", "seq_len", "n_keys", "n_first", "n_bins")


@dataclass
class CensusResult:
    """Census statistics, reduced per layer and query head.

    Per sample (S = samples, L = selected layers, H = query heads, K = ``n_keys``):
      ``alpha`` (S, L, H, K): alpha_k of the first K keys (NaN for keys beyond a sample's length);
      ``entropy``, ``row_max``, ``first_mass`` (S, L, H): mean over the sample's queries of the row entropy (nats), the
      row maximum probability, and the row mass on keys k < ``n_first``;
      ``lengths`` (S,), ``sample_index`` (S,): token count and index of each sample in the input.
    Summed over samples (exact to merge; T = ``seq_len``):
      ``alpha_sum`` (L, H, T) sum of alpha_k, ``alpha_n`` (L, T) samples in which key k was seen;
      ``colsum_sum`` (L, H, T) sum of column sums, ``count_sum`` (L, T) sum of the numbers of queries seeing k;
      ``profile_sum`` (3, L, H, n_bins) sums over rows of entropy / row_max / first_mass in query-position bins
      (bin = position * n_bins // T), ``profile_n`` (L, n_bins) rows in each bin.
    """

    alpha: np.ndarray
    entropy: np.ndarray
    row_max: np.ndarray
    first_mass: np.ndarray
    lengths: np.ndarray
    sample_index: np.ndarray
    alpha_sum: np.ndarray
    alpha_n: np.ndarray
    colsum_sum: np.ndarray
    count_sum: np.ndarray
    profile_sum: np.ndarray
    profile_n: np.ndarray
    layers: list[int]
    seq_len: int
    n_keys: int
    n_first: int
    n_bins: int
    n_skipped: int = 0
    meta: dict = field(default_factory=dict)

    # -- derived ---------------------------------------------------------------------------------------------------
    @property
    def n_samples(self) -> int:
        return len(self.alpha)

    @property
    def n_heads(self) -> int:
        return int(self.alpha.shape[2])

    def alpha_mean(self) -> np.ndarray:
        """Mean over samples of alpha_k for every key: (L, H, T); NaN where no sample has key k."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.alpha_sum / self.alpha_n[:, None, :]

    def alpha_pooled(self) -> np.ndarray:
        """Pooled alpha_k = sum of column sums / sum of query counts over samples: (L, H, T) (equals
        :meth:`alpha_mean` when every sample has the same length and mask)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.colsum_sum / self.count_sum[:, None, :]

    def alpha_first(self) -> np.ndarray:
        """Mean alpha_1 (the first key) over samples: (L, H)."""
        return np.nanmean(self.alpha[..., 0], axis=0) if self.n_samples else self._no_samples()

    def sink(self, eps: float = PAPER_EPS, ks: Iterable[int] | None = None) -> dict[int, float]:
        """Sink_k^eps in % for k = 1..K (1-indexed as in the paper): :func:`sinkviz.metrics.sink.sink_rate` of the
        stored alpha, the share of (sample, layer, query head) with alpha_k > eps (strict, Gu et al. 2025 §3.2).
        Samples too short to have key k are left out of that k's mean.

        ``eps`` is rounded to the precision alpha was computed in (float32), so the comparison is the official
        code's ``importance_scores > epsilon`` on a float32 tensor: alpha equal to float32(eps) is not a sink."""
        ks = list(range(1, self.n_keys + 1)) if ks is None else list(ks)
        for k in ks:
            if not 1 <= k <= self.n_keys:
                raise ValueError(f"k must be in 1..{self.n_keys} (the census kept n_keys={self.n_keys})")
        rates = sink_rate(self.alpha, float(np.asarray(eps, dtype=self.alpha.dtype)))
        return {k: float(rates[k - 1]) for k in ks}

    def first_mass_mean(self) -> np.ndarray:
        """Mean over samples of the per-row mass on the first ``n_first`` keys: (L, H)."""
        return self.first_mass.mean(0) if self.n_samples else self._no_samples()

    def profile(self, name: str) -> np.ndarray:
        """Mean of a row statistic ('entropy', 'row_max' or 'first_mass') per query-position bin: (L, H, n_bins)."""
        i = PROFILE_NAMES.index(name)
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.profile_sum[i] / self.profile_n[:, None, :]

    def _no_samples(self) -> np.ndarray:
        return np.full(self.alpha.shape[1:3], np.nan)

    # -- merge / io ------------------------------------------------------------------------------------------------
    @classmethod
    def merge(cls, parts: Sequence[CensusResult | None]) -> CensusResult:
        """Exact merge of partial results over disjoint samples: per-sample arrays concatenated in ``sample_index``
        order, sums added, skipped counts added."""
        parts = [p for p in parts if p is not None]
        if not parts:
            raise ValueError("nothing to merge")
        first = parts[0]
        for p in parts[1:]:
            for attr in _SETTINGS:
                mine, theirs = getattr(first, attr), getattr(p, attr)
                if theirs != mine:
                    raise ValueError(f"cannot merge census results with different {attr}: {theirs} vs {mine}")
        index = np.concatenate([p.sample_index for p in parts])
        if len(np.unique(index)) != len(index):
            raise ValueError("partial census results share samples (sample_index overlaps); they must be disjoint")
        order = np.argsort(index, kind="stable")
        arrays = {f: np.concatenate([getattr(p, f) for p in parts])[order] for f in SAMPLE_FIELDS}
        for f in SUM_FIELDS:
            arrays[f] = np.sum([getattr(p, f) for p in parts], axis=0)
        settings = {attr: getattr(first, attr) for attr in _SETTINGS} | {"layers": list(first.layers)}
        return cls(**arrays, **settings, n_skipped=sum(p.n_skipped for p in parts), meta=dict(first.meta))

    def summary(self, eps: float = PAPER_EPS, ks: Iterable[int] = range(1, 11)) -> dict:
        """The JSON document of the CLI: Sink_k^eps, mean alpha_1 per [layer][head], counts and settings."""
        ks = [k for k in ks if k <= self.n_keys]
        return {
            "sink": {str(k): v for k, v in self.sink(eps, ks).items()},
            "alpha_first": _nan_to_none(self.alpha_first()),
            "first_mass": _nan_to_none(self.first_mass_mean()),
            "entropy": _nan_to_none(self.entropy.mean(0) if self.n_samples else self._no_samples()),
            "n_samples": self.n_samples,
            "n_skipped": int(self.n_skipped),
            "layers": list(self.layers),
            "n_heads": self.n_heads,
            "seq_len": int(self.seq_len),
            "eps": float(eps),
            "n_first": int(self.n_first),
            **{k: v for k, v in self.meta.items() if k != "layers"},
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write all arrays and settings to an .npz file, atomically."""
        arrays = {f: getattr(self, f) for f in SAMPLE_FIELDS + SUM_FIELDS}
        header = {attr: getattr(self, attr) for attr in _SETTINGS} | {"n_skipped": self.n_skipped, "meta": self.meta}
        arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        atomic_write(path, lambda fh: np.savez_compressed(fh, **arrays), binary=True)

    @classmethod
    def load(cls, path: str | os.PathLike) -> CensusResult:
        """Read a result written by :meth:`save`."""
        with np.load(path) as z:
            header = json.loads(bytes(z["header"]).decode())
            arrays = {f: z[f] for f in SAMPLE_FIELDS + SUM_FIELDS}
        return cls(**arrays, **header)


def _nan_to_none(a: np.ndarray) -> list[list[float | None]]:
    return [[None if not np.isfinite(x) else float(x) for x in row] for row in np.asarray(a, dtype=float)]
