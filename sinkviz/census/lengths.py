"""The census at several context lengths: Sink_1 at several epsilon and mean alpha_1 per layer against T.

Gu et al. 2025 (§3.2, Fig. 3) measure Sink_1 for T up to a few hundred tokens; the census extends the same metric to
a model's whole context (powers of two from 64 up to its maximum positions). Each length is its own census over
texts of at least T tokens (consecutive texts joined when the file's texts are shorter,
:func:`~sinkviz.census.texts.join_texts`), so every point is Sink_1 of T-token inputs, not a slice of longer ones.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sinkviz.census.engine import run_census
from sinkviz.census.result import CensusResult
from sinkviz.census.texts import join_texts
from sinkviz.metrics.sink import PAPER_EPS
from sinkviz.models import text_config, unwrap

#: Gu et al. 2025, Fig. 3: the thresholds drawn.
EPS_GRID = (0.2, 0.3, 0.4, 0.5)


def length_grid(stop: int, start: int = 64) -> list[int]:
    """Powers of two from ``start`` up to ``stop`` (``stop`` itself added when it is not a power of two)."""
    if stop < start:
        raise ValueError(f"the longest length ({stop}) is shorter than the first ({start})")
    out = [1 << n for n in range(max(0, (start - 1).bit_length()), stop.bit_length()) if start <= 1 << n <= stop]
    return out if out and out[-1] == stop else [*out, stop]


def max_context(model: Any) -> int | None:
    """The model's maximum positions (``max_position_embeddings``), or None when its config has none."""
    value = getattr(text_config(unwrap(model)[0]), "max_position_embeddings", None)
    return int(value) if value else None


def census_by_length(model: Any, texts: Sequence[str], seq_lens: Sequence[int], *, n_texts: int | None = None,
                     join: bool = True, tokenizer: Any = None, progress: bool = False,
                     **census_options: Any) -> list[CensusResult]:
    """One :func:`~sinkviz.census.engine.run_census` per length, over ``n_texts`` texts of at least T tokens
    (joined from consecutive ``texts`` when ``join``; else texts shorter than T are skipped and counted)."""
    tok = tokenizer or unwrap(model)[1]
    results = []
    for T in seq_lens:
        chosen = join_texts(tok, texts, int(T), limit=n_texts) if join else list(texts)[:n_texts]
        if not chosen:
            raise ValueError(f"the texts hold fewer than {T} tokens in all: give longer or more texts, or a shorter "
                             "length")
        res = run_census(model, chosen, seq_len=int(T), tokenizer=tok, progress=progress,
                         meta={"joined_texts": bool(join)}, **census_options)
        results.append(res)
    return results


def length_summary(results: Sequence[CensusResult], eps_grid: Sequence[float] = EPS_GRID) -> dict:
    """What the sink-against-length figure draws: ``lengths``; ``sink1`` (len(eps_grid), n_lengths) in %;
    ``alpha1_by_layer`` (n_lengths, L) mean alpha_1 over samples and heads; ``n_samples`` per length."""
    return {
        "lengths": [int(r.seq_len) for r in results],
        "eps_grid": [float(e) for e in eps_grid],
        "sink1": np.array([[r.sink(eps, [1])[1] for r in results] for eps in eps_grid]),
        "alpha1_by_layer": np.array([np.nanmean(r.alpha[..., 0], axis=(0, 2)) for r in results]),
        "layers": list(results[0].layers) if results else [],
        "n_samples": [int(r.n_samples) for r in results],
    }


__all__ = ["EPS_GRID", "PAPER_EPS", "census_by_length", "length_grid", "length_summary", "max_context"]
