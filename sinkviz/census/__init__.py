"""Long-context sink census: exact streaming attention statistics over many texts, without T x T matrices.

Usage::

    import sinkviz
    res = sinkviz.run_census(m, texts, seq_len=4096, layers=None, batch_size=1)
    res.sink(eps=0.3)          # {1: Sink_1 %, ..., K: Sink_K %}
    res.alpha                  # (samples, layers, heads, K) alpha of the first K keys, as the sink metrics take
    res.alpha_mean()           # (layers, heads, T) mean alpha of every key

The parts: :mod:`~sinkviz.census.engine` (the registered attention function and the runner),
:mod:`~sinkviz.census.kernels` (the statistics, torch and Triton), :mod:`~sinkviz.census.result`
(alpha_k and Sink_k, Gu et al. 2025 §3.2), :mod:`~sinkviz.census.texts`, :mod:`~sinkviz.census.distributed`
(several processes) and :mod:`~sinkviz.census.cli` (``sinkviz census``).
"""
from sinkviz.census.distributed import gather_results, shard
from sinkviz.census.engine import CENSUS_IMPLEMENTATION as ATTN_NAME
from sinkviz.census.engine import Census, run_census
from sinkviz.census.result import CensusResult
from sinkviz.census.texts import read_texts, tokenize_texts

census = run_census  # the name this function had before the census became a package

__all__ = [
    "ATTN_NAME", "Census", "CensusResult", "census", "gather_results", "read_texts", "run_census", "shard",
    "tokenize_texts",
]
