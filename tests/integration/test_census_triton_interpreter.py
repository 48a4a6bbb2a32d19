"""The Triton census kernel, run on the CPU by Triton's interpreter (TRITON_INTERPRET=1), equals the torch path.

Needs the `triton` package (CUDA builds of PyTorch ship it; on a CPU machine `pip install triton`). The GPU run of the
same kernel is in benchmarks/bench_census.py (results in benchmarks/results/census.details.json).
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import triton  # noqa: E402,F401  (installed by `make test`: the test extras pin it)

SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import torch
    from sinkviz.census import kernels as ck
    from sinkviz.census import Census
    sys.path.insert(0, sys.argv[1])
    import test_census_families as tf

    opts = dict(block_m=16, block_n=16, num_warps=1, num_stages=1)
    torch.manual_seed(0)
    B, H, Hkv, T, d = 2, 4, 2, 37, 80  # head_dim 80: padded to 128 lanes inside the kernel
    q, k = torch.randn(B, H, T, d) * 2, torch.randn(B, Hkv, T, d) * 2
    qv = torch.ones(B, T, dtype=torch.bool)
    qv_pad = torch.arange(T)[None] < torch.tensor([T, 21])[:, None]
    i = torch.arange(T)
    pad_mask = ((i[None, :] <= i[:, None])[None] & qv_pad[:, None, :])[:, None]
    cases = [dict(causal=True, q_valid=qv), dict(causal=True, window=6, q_valid=qv),
             dict(causal=False, q_valid=qv), dict(causal=True, mask=pad_mask, q_valid=qv_pad)]
    for kw in cases:
        ref = ck.stats_torch(q, k, scaling=0.3, **kw)
        for lse, (bm, bn), keys_as_rows, blocks_first, fold in ((None, (16, 16), False, False, False),
                                                                (ref.lse, (32, 16), False, True, False),
                                                                (None, (16, 32), True, True, False),
                                                                (ref.lse, (32, 16), True, False, False),
                                                                (None, (16, 32), True, True, True),
                                                                (ref.lse, (16, 16), True, False, True)):
            st = ck.stats_triton(q, k, scaling=0.3, lse=lse, **kw, **{**opts, "block_m": bm, "block_n": bn,
                                                                      "keys_as_rows": keys_as_rows,
                                                                      "blocks_first": blocks_first,
                                                                      "fold_rows": fold,
                                                                      "max_registers": 128 if fold else None})
            rows = kw["q_valid"][:, None, :].expand(-1, H, -1)
            torch.testing.assert_close(st.colsum, ref.colsum, atol=1e-5, rtol=1e-5)
            assert torch.equal(st.count, ref.count)
            for f in ("entropy", "rowmax", "first_mass", "lse"):
                torch.testing.assert_close(getattr(st, f)[rows], getattr(ref, f)[rows], atol=5e-5, rtol=1e-5)
    # the lse kernel alone, and the default (tuned) path, which the interpreter runs with its small tiles
    torch.testing.assert_close(ck.lse_triton(q, k, scaling=0.3, causal=True), ck.stats_torch(q, k, scaling=0.3).lse,
                               atol=5e-5, rtol=1e-5)
    st = ck.stats_triton(q, k, scaling=0.3)
    torch.testing.assert_close(st.colsum, ck.stats_torch(q, k, scaling=0.3).colsum, atol=1e-5, rtol=1e-5)
    for fam in ("llama", "gemma3", "bert"):  # GQA + padding, sliding windows, bidirectional, through the model
        model = tf.build(fam)
        ids, mask = tf.batch()
        ref, _ = tf.eager_reference(model, ids, mask)
        c = Census(model, seq_len=tf.T, n_keys=tf.N_KEYS, backend="triton", triton_opts=opts)
        c.add(ids, mask)
        r = c.result()
        np.testing.assert_allclose(r.alpha, ref["alpha"][..., : tf.N_KEYS], atol=2e-5, rtol=1e-4)
        np.testing.assert_allclose(r.entropy, ref["entropy"], atol=2e-5, rtol=1e-4)
        np.testing.assert_allclose(r.row_max, ref["row_max"], atol=2e-5, rtol=1e-4)
    print("ok")
    """
)


def test_triton_kernel_under_the_interpreter():
    here = Path(__file__).parent
    env = dict(os.environ, TRITON_INTERPRET="1")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(here)], capture_output=True, text=True, env=env,
                          timeout=600, cwd=here.parent.parent)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-4000:]
