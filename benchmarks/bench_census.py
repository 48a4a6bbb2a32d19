"""Census benchmark: the public API as a user calls it, beside the plain forward, plus per-kernel timings (issue 16).

On the GPU machine (one H200), everything in one process, within a time budget:
    PYTHONUNBUFFERED=1 python benchmarks/bench_census.py --out $OUT --deadline 380
A CPU dry run of the same code on a tiny model (Triton parts skipped):
    python benchmarks/bench_census.py --tiny --out /tmp/census_tiny

Sections (each writes its JSON as soon as it is done, so a run stopped by its time limit keeps what it measured):
1. ``kernel``: exactness of the Triton statistics (both tile layouts, lse given or from the lse kernel) against the
   float32 torch path on the same random bf16/fp32 q/k (T = 2048, H = 32, 8 KV heads, d = 128): causal + GQA,
   sliding window, padding mask, bidirectional.
2. ``sweep``: per-kernel timings at T = 32k and 128k (H = 32, d = 128, bf16, Llama-2-7B's attention): cuDNN's and
   flash attention's forward (with lse), SDPA's default, every candidate configuration of the statistics kernel,
   the lse kernel, and the configuration :mod:`sinkviz.census.tuning` picks; the floors (one causal QK^T at the
   measured bf16 matrix rate, one exp2 per visible score at the H200's 16 exp2 per clock per SM).
3. ``api``: Llama-2-7B shape (32 layers, random bf16 weights, batch 1, base model): the plain SDPA forward and
   ``Census(model, seq_len=T).add(ids); .result()`` -- no option passed -- for each T, median of 3 (2 at >= 64k)
   after one warm-up call (the first call's time, which includes choosing kernel configurations, is recorded); the
   census's extra peak GPU memory over the plain forward's. Longest lengths are skipped when the time budget would
   not cover them (and the JSON says so).
4. ``explorer``: the long-context explorer's work on the GPU (``sinkviz.census.window.LongContextTrace``) on a
   SmolLM2-135M-shaped random bf16 model at T = 32k: opening (one census forward keeping q/k and lse), a head
   switch (the whole-context map max-pooled to 512 x 512) and window moves (1024- and 64-token windows).
5. ``shared``: issue 15 without a second GPU: the CLI census in two processes (torchrun, gloo) sharing cuda:0 vs one
   process, and a model split across the GPU and the CPU with a device_map, on a tiny random model.

Not in the default parts (``--parts profile`` / ``--parts gap``): ``profile`` (torch.profiler over one plain forward
and one census call at ``--profile-T``: census.profile.json) and ``gap`` (the statistics kernel's time inside a census
call, replaying layer 0's call alone, and on fresh q/k, with the GPU's SM clock and throttle reasons during each:
census.gap.json). Under ``--tiny`` with ``TRITON_INTERPRET=1`` both run on the CPU (``gap`` in about 5 minutes).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from sinkviz.census import Census  # noqa: E402
from sinkviz.census import kernels as ck  # noqa: E402
from sinkviz.census import tuning  # noqa: E402

GIB = 1 << 30
STARTED = time.time()


def log(*a):
    print(f"[{time.time() - STARTED:6.1f}s]", *a, flush=True)


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    ok = torch.isfinite(a) & torch.isfinite(b)
    return float((a[ok] - b[ok]).norm() / b[ok].norm().clamp_min(1e-30))


def write(path: Path, doc) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, path)


def device_doc(dev) -> dict:
    doc = {"device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu", "torch": torch.__version__}
    try:
        import transformers
        import triton

        doc.update(transformers=transformers.__version__, triton=triton.__version__)
    except ImportError:
        pass
    return doc


# ----------------------------------------------------------------------------------------------------------------------
def kernel_checks(args, dev) -> dict:
    H, Hkv, d, T = (4, 2, 16, 96) if args.tiny else (32, 8, 128, 2048)
    torch.manual_seed(1)
    q = (torch.randn(2, H, T, d, device=dev) * 1.5).to(args.dtype)
    k = (torch.randn(2, Hkv, T, d, device=dev) * 1.5).to(args.dtype)
    k[:, :, 0] *= 4  # a strong first key, as in a sink
    qv = torch.ones(2, T, dtype=torch.bool, device=dev)
    qv_pad = torch.arange(T, device=dev)[None] < torch.tensor([T, T * 2 // 3], device=dev)[:, None]
    i = torch.arange(T, device=dev)
    pad_mask = ((i[None, :] <= i[:, None])[None] & qv_pad[:, None, :])[:, None]
    cases = {
        "causal_gqa": dict(causal=True, q_valid=qv),
        "sliding_window": dict(causal=True, window=512 if not args.tiny else 16, q_valid=qv),
        "padding_mask": dict(causal=True, mask=pad_mask, q_valid=qv_pad),
        "bidirectional": dict(causal=False, q_valid=qv),
        "causal_fp32_inputs": dict(causal=True, q_valid=qv, _fp32=True),
    }
    scale = d ** -0.5
    out = {}
    if args.quick:
        cases = {name: cases[name] for name in ("causal_gqa", "padding_mask")}
    for name, kw in cases.items():
        kw = dict(kw)
        fp32 = kw.pop("_fp32", False)
        q_, k_ = (q.float(), k.float()) if fp32 else (q, k)
        ref = ck.stats_torch(q_, k_, scaling=scale, chunk_elems=1 << 26, **kw)
        rows = kw["q_valid"][:, None, :].expand(-1, H, -1)
        res = {}
        for layout in (True, False):
            for lse_from in ("kernel", "given"):
                opts = dict(block_m=16 if args.tiny else 128, block_n=16 if args.tiny else 64,
                            num_warps=8 if layout else 4, num_stages=3, keys_as_rows=layout,
                            blocks_first=lse_from == "given")
                try:
                    st = ck.stats_triton(q_, k_, scaling=scale, lse=None if lse_from == "kernel" else ref.lse, **kw,
                                         **opts)
                except Exception as e:  # noqa: BLE001 - a layout this compiler rejects: recorded, not hidden
                    res[f"{'keys' if layout else 'queries'}_as_rows/lse_{lse_from}"] = {"error": repr(e)[:300]}
                    log(f"[kernel] {name} keys_as_rows={layout} lse={lse_from} FAILED: {repr(e)[:300]}")
                    continue
                errs = {f: rel_err(getattr(st, f)[rows] if f != "colsum" else st.colsum,
                                   getattr(ref, f)[rows] if f != "colsum" else ref.colsum)
                        for f in ("colsum", "entropy", "rowmax", "first_mass", "lse")}
                errs["finite"] = bool(all(torch.isfinite(getattr(st, f)[rows]).all()
                                          for f in ("entropy", "rowmax", "lse")))
                res[f"{'keys' if layout else 'queries'}_as_rows/lse_{lse_from}"] = errs
        out[name] = res
        errs = [v for r in res.values() for f, v in r.items() if f not in ("finite", "error")]
        log(f"[kernel] {name}: worst rel err {max(errs, default=float('nan')):.2e}; "
            f"all finite {all(r.get('finite', False) for r in res.values())}")
    # the default (tuned) path on the same inputs
    st = ck.stats_triton(q, k, scaling=scale, q_valid=qv)
    ref = ck.stats_torch(q, k, scaling=scale, chunk_elems=1 << 26, q_valid=qv)
    out["tuned_default_causal_gqa"] = {f: rel_err(getattr(st, f), getattr(ref, f))
                                       for f in ("colsum", "entropy", "rowmax", "first_mass", "lse")}
    log(f"[kernel] tuned default: {out['tuned_default_causal_gqa']}")
    kk = k.repeat_interleave(H // Hkv, 1)
    ref_lse = ck.math_reference_lse(q, k, scale, causal=True)
    for src in ("flash", "cudnn"):
        fl = ck.forward_with_lse(q, kk, kk, scaling=scale, causal=True, source=src)
        out[f"{src}_lse_rel_err"] = None if fl is None else rel_err(fl[1], ref_lse)
    return out


def sweep(args, dev) -> dict:
    import triton

    H, d = 32, 128
    scale = d ** -0.5
    bench = lambda f, rep=60: triton.testing.do_bench(f, warmup=10, rep=rep, return_mode="median")  # noqa: E731
    res = {}
    a = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
    mm_ms = bench(lambda: a @ b)
    res["bf16_matmul_tflops"] = 2 * 8192 ** 3 / (mm_ms * 1e-3) / 1e12
    sms = torch.cuda.get_device_properties(dev).multi_processor_count
    del a, b
    ranked = None
    for T in args.sweep_Ts:
        if time.time() - STARTED > args.sweep_deadline:
            res[str(T)] = "skipped: time budget"
            continue
        torch.manual_seed(T)
        q = torch.randn(1, H, T, d, device=dev, dtype=torch.bfloat16)
        k = torch.randn(1, H, T, d, device=dev, dtype=torch.bfloat16)
        v = torch.randn(1, H, T, d, device=dev, dtype=torch.bfloat16)
        rep = 60 if T <= 32768 else 300
        r = {"sdpa_ms": bench(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True,
                                                                                        scale=scale), rep)}
        lse = None
        for src in ("cudnn", "flash"):
            fl = ck.forward_with_lse(q, k, v, scaling=scale, causal=True, source=src)
            if fl is not None:
                lse = fl[1] if lse is None else lse
                r[f"{src}_forward_ms"] = bench(
                    lambda s_=src: ck.forward_with_lse(q, k, v, scaling=scale, causal=True, source=s_), rep)
        if lse is None:
            lse = ck.lse_triton(q, k, scaling=scale, causal=True)
        r["lse_kernel_ms"] = bench(lambda: ck.lse_triton(q, k, scaling=scale, causal=True), rep)
        cands = (tuning.STATS_CANDIDATES if ranked is None else ranked[:3]) if not args.quick else ()
        stats_ms = {}
        for cfg in cands:
            name = tuning._name(cfg)
            try:
                stats_ms[name] = bench(lambda c=cfg: ck.stats_triton(q, k, scaling=scale, lse=lse, config=c), rep)
            except Exception as e:  # noqa: BLE001 - a config this compiler rejects
                stats_ms[name] = f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
            log(f"[sweep] T={T} stats {name}: {stats_ms[name]}")
        r["stats_ms"] = stats_ms
        ok = {n: m for n, m in stats_ms.items() if isinstance(m, float)}
        if ranked is None and ok:
            ranked = sorted((c for c in cands if tuning._name(c) in ok), key=lambda c: ok[tuning._name(c)])
        tuned = tuning.choose(ck.TritonCall(q, k, scale, True, None, None,
                                            torch.ones(1, T, dtype=torch.int8, device=dev), True, 4, None), "stats",
                              lse=lse)
        r["tuned_config"] = tuning._name(tuned)
        r["tuner_ms_every_candidate"] = tuning.summary()[next(k_ for k_ in tuning.summary() if f"|T{T}|" in k_
                                                              and "|stats|" in k_)]["ms"]
        r["tuned_ms"] = bench(lambda: ck.stats_triton(q, k, scaling=scale, lse=lse), rep)
        visible = H * T * (T + 1) / 2
        r["floor_qk_ms"] = 2 * visible * d / (res["bf16_matmul_tflops"] * 1e12) * 1e3
        r["floor_exp2_ms"] = visible / (16 * sms * 1.98e9) * 1e3  # 16 exp2 / clock / SM, 1.98 GHz boost
        fwd = r.get("cudnn_forward_ms") or r["sdpa_ms"]
        r["tuned_over_attention_forward"] = r["tuned_ms"] / fwd
        log(f"[sweep] T={T}: {json.dumps({k_: v_ for k_, v_ in r.items() if k_ != 'stats_ms'})}")
        res[str(T)] = r
        del q, k, v, lse
        torch.cuda.empty_cache()
    return res


# ----------------------------------------------------------------------------------------------------------------------
def build_llama7b(args, dev, layers):
    from transformers import LlamaConfig, LlamaModel

    if args.tiny:
        cfg = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1 << 17)
    else:
        cfg = LlamaConfig(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=layers,
                          num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=1 << 17,
                          rope_theta=10000.0)
    return _build(LlamaModel, cfg, args.dtype, dev)


def _build(cls, cfg, dtype, dev):
    cfg._attn_implementation = "sdpa"
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(dev):
            torch.manual_seed(0)
            model = cls(cfg)
    finally:
        torch.set_default_dtype(old)
    model.set_attn_implementation("sdpa")
    return model.eval()


def api_calls(model, ids: torch.Tensor):
    """(plain, census): the two calls every public-API measurement compares, as a user makes them -- the model's own
    forward under inference_mode, and ``Census(model, seq_len=T)`` with no option, one ``add``, ``result()``."""
    def plain():
        with torch.inference_mode():
            model(input_ids=ids, use_cache=False)

    def census():
        c = Census(model, seq_len=ids.shape[-1])
        c.add(ids)
        return c.result()

    return plain, census


def public_api(args, dev, out_dir: Path) -> list:
    model = build_llama7b(args, dev, 32)
    cfg = model.config
    log(f"[api] model built ({sum(p.numel() for p in model.parameters()) / 1e9:.2f}B parameters)")
    rows = []
    doc = {**device_doc(dev), "path": "public-api",
           "what": "plain: model(input_ids=ids, use_cache=False) under inference_mode; census: "
                   "c = Census(model, seq_len=T); c.add(ids); c.result() -- no option passed (kernel configurations "
                   "chosen by sinkviz.census.tuning). Median of the timed calls after one warm-up call; "
                   "census_extra_gib = census peak GPU memory minus the plain forward's.",
           "model": {"shape": "Llama-2-7B" if not args.tiny else "tiny", "layers": cfg.num_hidden_layers,
                     "hidden": cfg.hidden_size, "heads": cfg.num_attention_heads, "dtype": str(args.dtype),
                     "weights": "random (seed 0)", "forward": "base model (LlamaModel), no LM head, batch 1"},
           "rows": rows}
    last = None
    for T in args.Ts:
        if last is not None:
            # the next length costs about 3.5x the last one per call (attention grows as T^2): skip it if that runs
            # past the budget
            per_call = (last["plain_s"] + last["census_s"]) * (3.5 if T >= 2 * last["T"] else 1.0)
            calls = (args.reps_long + args.warmup_long) if T >= 65536 else 4
            if time.time() - STARTED + per_call * calls > args.deadline:
                doc.setdefault("skipped", []).append(
                    {"T": T, "why": f"time budget: about {per_call * calls:.0f} s needed, "
                                    f"{args.deadline - (time.time() - STARTED):.0f} s left"})
                log(f"[api] T={T} skipped (time budget)")
                continue
        torch.manual_seed(T)
        ids = torch.randint(0, cfg.vocab_size, (1, T), device=dev)
        reps = 3 if T < 65536 else args.reps_long
        warmup = 1 if T < 65536 else args.warmup_long
        plain, census = api_calls(model, ids)

        def timed(fn):
            """(first call s, median of reps s, peak extra bytes over the model's weights, last return value)."""
            ts, value = [], None
            if dev.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(dev)
            base = torch.cuda.memory_allocated(dev) if dev.type == "cuda" else 0
            for _ in range(reps + warmup):
                sync(dev)
                t0 = time.perf_counter()
                value = fn()
                sync(dev)
                ts.append(time.perf_counter() - t0)
            peak = (torch.cuda.max_memory_allocated(dev) - base) if dev.type == "cuda" else 0
            return ts[0], statistics.median(ts[warmup:]), peak, value

        # the SM clock beside each: under the card's power cap a whole forward holds a lower clock, and a ratio
        # within a few percent of a goal is read against it
        with _ClockSampler(dev) as clocks:
            p_first, p_s, p_peak, _ = clocks.phase("plain", lambda: timed(plain))
            c_first, c_s, c_peak, res = clocks.phase("census", lambda: timed(census))
        row = {"T": T, "plain_s": p_s, "census_s": c_s, "census_ratio": c_s / p_s, "clocks": clocks.summary(),
               "census_extra_gib": (c_peak - p_peak) / GIB, "plain_peak_gib": p_peak / GIB,
               "census_first_call_s": c_first, "plain_first_call_s": p_first, "reps": reps, "warmup_calls": warmup,
               "lse_source": res.meta.get("lse_source"), "kernel_configs": res.meta.get("kernel_configs"),
               "sink1_eps0.3": res.sink(0.3, [1])[1]}
        rows.append(row)
        last = row
        if res.meta.get("triton_error"):
            doc["stopped"] = f"the Triton kernel failed: {res.meta['triton_error']}"
            log(f"[api] STOP: {doc['stopped']}")
            write(out_dir / "census.json", doc)
            break
        log(f"[api] T={T} plain {p_s:.3f}s census {c_s:.3f}s x{row['census_ratio']:.3f} extra "
            f"{row['census_extra_gib']:.3f} GiB (first census call {c_first:.2f}s)")
        doc["tuning"] = tuning.summary()
        write(out_dir / "census.json", doc)
        del ids
    del model
    if dev.type == "cuda":
        torch.cuda.empty_cache()
    return rows


# ----------------------------------------------------------------------------------------------------------------------
def explorer_gpu(args, dev, out_dir: Path) -> dict:
    from transformers import LlamaConfig, LlamaForCausalLM

    from sinkviz.census.window import LongContextTrace

    T = 256 if args.tiny else args.explorer_T
    cfg = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                      num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=max(8192, T),
                      rope_theta=100000.0, tie_word_embeddings=True)
    if args.tiny:
        cfg.num_hidden_layers = 2
    model = _build(LlamaForCausalLM, cfg, args.dtype, dev)
    ids = torch.randint(0, cfg.vocab_size, (1, T), device=dev)
    doc = {**device_doc(dev), "model": "SmolLM2-135M shape (30 layers, 9 query / 3 KV heads, d 64), random bf16 "
                                      "weights", "T": T,
           "what": "Python-side compute of the long-context explorer on the GPU (sinkviz.census.window): no widget, "
                   "no browser; the CPU benchmark (benchmarks/bench_long_context.py) measures the widget."}
    LongContextTrace(model, ids[:, :1024])  # warm-up: kernels compiled and configurations chosen at a short length
    sync(dev)
    t0 = time.perf_counter()
    lt = LongContextTrace(model, ids)
    sync(dev)
    doc["open_s"] = time.perf_counter() - t0
    doc["kept_layers"] = len(lt.qk)
    doc["memory_gib"] = lt.memory_bytes() / GIB
    layer, head = lt.best_head
    f = -(-T // 512)

    def med(fn, n=5):
        ts = []
        for _ in range(n):
            sync(dev)
            t = time.perf_counter()
            fn()
            sync(dev)
            ts.append(time.perf_counter() - t)
        return statistics.median(ts)

    heads = list(range(cfg.num_attention_heads))
    it = iter(heads * 3)
    doc["head_switch_whole_context_s"] = med(lambda: lt.map(layer, next(it), (0, T), (0, T), factor=f))
    for w, name in ((min(1024, T // 4), "window_move_1024_s"), (64, "window_move_64_s")):
        starts = iter(range(0, T - w, max(1, (T - w) // 6)))
        pool = -(-w // 512)
        doc[name] = med(lambda: lt.map(layer, head, (s := next(starts), s + w), (s, s + w), factor=pool))
    dropped = [x for x in lt.layers if x not in lt.qk]
    if dropped:  # a layer past the q/k budget: captured again by a forward pass that stops after it
        doc["layer_recapture_s"] = med(lambda: lt.layer(dropped[-1]), 1)
        doc["layer_recaptured"] = dropped[-1]
    log(f"[explorer] {json.dumps(doc)}")
    write(out_dir / "long_context_gpu.json", doc)
    del lt, model
    if dev.type == "cuda":
        torch.cuda.empty_cache()
    return doc


# ----------------------------------------------------------------------------------------------------------------------
SHARED_TEXT = "the quick brown fox jumps over the lazy dog and then runs back home again. "


def shared_gpu(args, dev, out_dir: Path) -> dict:
    """Issue 15 on one GPU: two processes sharing cuda:0 (torchrun, gloo) vs one process; GPU + CPU device_map."""
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
    from tiny_models import char_tokenizer
    from transformers import LlamaConfig, LlamaForCausalLM

    import sinkviz
    from sinkviz.census.result import CensusResult

    work = Path("/tmp/sinkviz_shared")
    work.mkdir(exist_ok=True)
    folder = work / "tiny_llama"
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=64, hidden_size=256, intermediate_size=512, num_hidden_layers=8,
                      num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=4096)
    LlamaForCausalLM(cfg).save_pretrained(folder, safe_serialization=True)
    char_tokenizer(False, bos=True).save_pretrained(folder)
    texts = work / "texts.txt"
    texts.write_text("".join((SHARED_TEXT * 40)[i:] + "\n" for i in range(8)))
    T = 128 if args.tiny else 1024
    gpu, dtype = ("cpu", "fp32") if args.tiny else ("cuda:0", "bf16")
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(Path.cwd()))
    common = [str(folder), "--texts", str(texts), "--seq-len", str(T), "--device", gpu, "--dtype", dtype,
              "--no-progress"]
    doc = {**device_doc(dev), "not_the_2gpu_run": "one H200 was lent, so this is NOT issue 15's two-GPU run: two "
           "processes share one GPU (gloo process group, both on cuda:0), and a device_map splits the model across "
           "the GPU and the CPU", "model": "tiny random LLaMA (8 layers, 8 query / 4 KV heads, d 32), bf16",
           "texts": 8, "seq_len": T}
    runs = {}
    for name, launcher in (("one_process", [sys.executable, "-m", "sinkviz.census"]),
                           ("two_processes_one_gpu", [sys.executable, "-m", "torch.distributed.run",
                                                      "--nproc-per-node", "2", "-m", "sinkviz.census"])):
        t0 = time.perf_counter()
        proc = subprocess.run(launcher + common + ["--out", str(work / f"{name}.json"),
                                                   "--save-arrays", str(work / f"{name}.npz")],
                              capture_output=True, text=True, env=env, timeout=240)
        runs[name] = {"command": " ".join(launcher[1:] + ["MODEL"] + common[1:]), "wall_s": time.perf_counter() - t0,
                      "returncode": proc.returncode, "stdout_tail": proc.stdout[-600:], "stderr_tail": proc.stderr[-1500:]}
        log(f"[shared] {name}: rc {proc.returncode} in {runs[name]['wall_s']:.1f}s {proc.stdout[-200:]!r}")
    doc["runs"] = runs
    if all(r["returncode"] == 0 for r in runs.values()):
        one = CensusResult.load(work / "one_process.npz")
        two = CensusResult.load(work / "two_processes_one_gpu.npz")
        doc["two_vs_one"] = {
            "same_sample_order": bool(np.array_equal(one.sample_index, two.sample_index)),
            "alpha_max_abs_diff": float(np.nanmax(np.abs(one.alpha - two.alpha))),
            "alpha_sum_max_abs_diff": float(np.abs(one.alpha_sum - two.alpha_sum).max()),
            "count_sum_equal": bool(np.array_equal(one.count_sum, two.count_sum)),
            "sink1_one": json.loads((work / "one_process.json").read_text())["sink"]["1"],
            "sink1_two": json.loads((work / "two_processes_one_gpu.json").read_text())["sink"]["1"],
        }
    # device_map across the GPU and the CPU: the first half of the layers on cuda:0, the rest on the CPU
    first = "cpu" if args.tiny else 0
    dmap = {"model.embed_tokens": first, "model.rotary_emb": first, "model.norm": "cpu", "lm_head": "cpu"}
    dmap.update({f"model.layers.{i}": first if i < cfg.num_hidden_layers // 2 else "cpu"
                 for i in range(cfg.num_hidden_layers)})
    try:
        all_texts = texts.read_text().splitlines()
        t0 = time.perf_counter()
        split = sinkviz.load(str(folder), device_map=dmap, dtype=dtype, progress=False)
        res_split = sinkviz.run_census(split, all_texts, seq_len=T)
        split_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        whole = sinkviz.load(str(folder), device=gpu, dtype=dtype, progress=False)
        res_whole = sinkviz.run_census(whole, all_texts, seq_len=T)
        whole_s = time.perf_counter() - t0
        gpu_layers = list(range(cfg.num_hidden_layers // 2))
        cpu_layers = list(range(cfg.num_hidden_layers // 2, cfg.num_hidden_layers))
        doc["device_map_gpu_cpu"] = {
            "device_map": {k: str(v) for k, v in dmap.items()},
            "load_and_census_s": split_s, "one_gpu_load_and_census_s": whole_s,
            "alpha_max_abs_diff_gpu_layers": float(np.nanmax(np.abs(res_split.alpha[:, gpu_layers]
                                                                    - res_whole.alpha[:, gpu_layers]))),
            "alpha_max_abs_diff_cpu_layers": float(np.nanmax(np.abs(res_split.alpha[:, cpu_layers]
                                                                    - res_whole.alpha[:, cpu_layers]))),
            "backend_split": res_split.meta.get("backend"), "sink1_split": res_split.sink(0.3, [1])[1],
            "sink1_one_gpu": res_whole.sink(0.3, [1])[1],
            "note": "CPU layers run the torch path in bf16 on the CPU (different matmul rounding from the GPU's)",
        }
    except Exception as e:  # noqa: BLE001 - reported, not hidden
        doc["device_map_gpu_cpu"] = {"error": f"{type(e).__name__}: {e}"[:800]}
    log(f"[shared] {json.dumps({k: v for k, v in doc.items() if k != 'runs'})[:1500]}")
    write(out_dir / "census_shared_gpu.json", doc)
    return doc


# ----------------------------------------------------------------------------------------------------------------------
def profile(args, dev, out_dir: Path) -> dict:
    """Where the census's time goes beyond the plain forward: torch.profiler over one plain forward and one public-API
    census call at ``--profile-T`` (after one warm-up call of each), GPU time per kernel name (top 25) and the GPU's
    idle time within the call's wall time; writes census.profile.json."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    model = build_llama7b(args, dev, 32)
    T = args.profile_T
    ids = torch.randint(0, model.config.vocab_size, (1, T), device=dev)
    plain, census = api_calls(model, ids)
    doc = {**device_doc(dev), "T": T, "what": " ".join(profile.__doc__.split(";")[0].split())}
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    for name, fn in (("plain", plain), ("census", census)):
        fn()
        sync(dev)
        with torch_profile(activities=activities) as prof:
            t0 = time.perf_counter()
            fn()
            sync(dev)
            wall = time.perf_counter() - t0
        # kernels only: an aten op and the kernels it launches both carry the same device time
        events = [e for e in prof.key_averages() if getattr(e, "self_device_time_total", 0) > 0
                  and str(getattr(e, "device_type", "")).endswith("CUDA") and not e.key.startswith("aten::")
                  and e.key != "Command Buffer Full"]
        events.sort(key=lambda e: e.self_device_time_total, reverse=True)
        gpu_ms = sum(e.self_device_time_total for e in events) / 1e3
        doc[name] = {"wall_ms": wall * 1e3, "gpu_kernel_ms": gpu_ms, "gpu_idle_ms": wall * 1e3 - gpu_ms,
                     "top": [{"name": e.key[:120], "calls": e.count, "ms": e.self_device_time_total / 1e3}
                             for e in events[:25]]}
        log(f"[profile] {name} T={T}: wall {wall * 1e3:.0f} ms, GPU kernels {gpu_ms:.0f} ms")
    write(out_dir / "census.profile.json", doc)
    del model
    return doc


class _ClockSampler:
    """The GPU's SM clock, power and throttle reasons every 50 ms from ``nvidia-smi`` while a ``with`` block runs
    (no samples where there is no nvidia-smi: the CPU dry run)."""

    FIELDS = ("timestamp", "clocks.sm", "power.draw", "temperature.gpu")
    REASONS = ("clocks_event_reasons.active", "clocks_throttle_reasons.active")  # newer drivers' name, older one's

    def __init__(self, dev: torch.device):
        self.dev = dev

    def __enter__(self):
        import shutil
        import tempfile

        self.path = Path(tempfile.mkstemp(suffix=".csv")[1])
        self.proc = None
        self.phases: list[tuple[str, float, float]] = []
        if shutil.which("nvidia-smi"):
            for reasons in self.REASONS:
                query = ",".join(self.FIELDS + (reasons,))
                probe = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits"],
                                       capture_output=True, text=True)
                if probe.returncode == 0:
                    self.proc = subprocess.Popen(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits",
                                                  "-lms", "50"], stdout=self.path.open("w"), stderr=subprocess.DEVNULL)
                    break
        return self

    def phase(self, name: str, fn):
        """Run ``fn()`` as the phase ``name`` and return its value; its samples are those stamped between its start
        and end."""
        sync(self.dev)
        start = time.time()
        value = fn()
        sync(self.dev)
        self.phases.append((name, start, time.time()))
        return value

    def __exit__(self, *exc):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait()
        self.samples = []
        for line in self.path.read_text().splitlines():
            cells = [c.strip() for c in line.split(",")]
            try:  # nvidia-smi stamps local time, as time.time() is read here
                stamp = datetime.datetime.strptime(cells[0], "%Y/%m/%d %H:%M:%S.%f").timestamp()
                self.samples.append((stamp, float(cells[1]), float(cells[2]), cells[4]))
            except (ValueError, IndexError):
                continue  # a partial last line, or "[N/A]"
        self.path.unlink()
        return False

    def summary(self) -> dict:
        """Per phase: median and lowest SM clock (MHz), median power (W), the throttle-reason masks seen."""
        out = {}
        for name, start, end in self.phases:
            inside = [s for s in self.samples if start <= s[0] <= end]
            clocks, power = [s[1] for s in inside], [s[2] for s in inside]
            out[name] = {"samples": len(inside), "seconds": round(end - start, 3),
                         "sm_clock_mhz_median": statistics.median(clocks) if clocks else None,
                         "sm_clock_mhz_min": min(clocks) if clocks else None,
                         "power_w_median": statistics.median(power) if power else None,
                         "throttle_reasons": sorted({s[3] for s in inside})}
        return out


def kernel_gap(args, dev, out_dir: Path) -> dict:
    """Why the statistics kernel takes longer inside the census (14.3 ms a layer at 32k in census.profile.json) than
    timed alone (12.2 ms): per-call times of the kernel (1) in one public-API census call, (2) replaying layer 0's
    call with its own q, k and lse 32 times back to back, (3) the same call on fresh random token-major q/k of the
    same shape; the SM clock, power and throttle reasons during each phase (nvidia-smi every 50 ms). The same
    configuration in all three; writes census.gap.json."""
    model = build_llama7b(args, dev, 32)
    T = args.profile_T
    ids = torch.randint(0, model.config.vocab_size, (1, T), device=dev)
    _, census = api_calls(model, ids)
    census()  # warm-up: kernel configurations chosen and compiled
    original = ck.stats_triton
    times_ms: list[float] = []
    first: dict = {}

    def recorded(q, k, **kwargs):
        if not first:
            first.update(q=q.clone(), k=k.clone(), kwargs={key: (v.clone() if torch.is_tensor(v) else v)
                                                          for key, v in kwargs.items()})
        sync(dev)  # the layer's projections and attention forward are still queued; they are not the kernel's time
        start = time.perf_counter()
        out = original(q, k, **kwargs)
        sync(dev)
        times_ms.append((time.perf_counter() - start) * 1e3)
        return out

    def replay(q, k, kwargs, into: list[float]) -> None:
        for _ in range(32):
            start = time.perf_counter()
            original(q, k, **{key: (v.clone() if key == "count" and torch.is_tensor(v) else v)
                              for key, v in kwargs.items()})
            sync(dev)
            into.append((time.perf_counter() - start) * 1e3)

    replay_ms: list[float] = []
    fresh_ms: list[float] = []
    with _ClockSampler(dev) as clocks:
        ck.stats_triton = recorded
        try:
            clocks.phase("in_census", census)
        finally:
            ck.stats_triton = original
        clocks.phase("replay_layer0", lambda: replay(first["q"], first["k"], first["kwargs"], replay_ms))
        q = torch.randn(first["q"].shape[0], T, first["q"].shape[1], first["q"].shape[3], device=dev,
                        dtype=first["q"].dtype).transpose(1, 2)
        k = torch.randn(first["k"].shape[0], T, first["k"].shape[1], first["k"].shape[3], device=dev,
                        dtype=first["k"].dtype).transpose(1, 2)
        clocks.phase("fresh_token_major", lambda: replay(q, k, first["kwargs"], fresh_ms))
    doc = {**device_doc(dev), "T": T, "what": " ".join(kernel_gap.__doc__.split()),
           "note": "kernel times are host-timed between synchronisations before and after each call (the launch included)",
           "layouts": {"census_q_strides": list(first["q"].stride()), "census_k_strides": list(first["k"].stride()),
                       "fresh_q_strides": list(q.stride())},
           "kernel_ms": {name: {"median": statistics.median(ms), "min": min(ms), "calls": len(ms)}
                         for name, ms in (("in_census", times_ms), ("replay_layer0", replay_ms),
                                          ("fresh_token_major", fresh_ms)) if ms},
           "clocks": clocks.summary(), "tuning": tuning.summary()}
    write(out_dir / "census.gap.json", doc)
    log(f"[gap] {json.dumps(doc['kernel_ms'])}")
    del model
    return doc


# ----------------------------------------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", action="store_true", help="CPU dry run on tiny models (Triton parts skipped)")
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--Ts", default="1024,2048,4096,8192,16384,32768,65536,131072")
    ap.add_argument("--sweep-Ts", default="32768,131072")
    ap.add_argument("--explorer-T", type=int, default=32768)
    ap.add_argument("--deadline", type=float, default=380.0, help="seconds: no new length or section after this")
    ap.add_argument("--parts", default="kernel,sweep,api,explorer,shared")
    ap.add_argument("--quick", action="store_true", help="kernel checks: causal GQA and padding only")
    ap.add_argument("--reps-long", type=int, default=2, help="timed calls at T >= 64k")
    ap.add_argument("--warmup-long", type=int, default=1, help="untimed calls before them at T >= 64k")
    ap.add_argument("--profile-T", type=int, default=None,
                    help="length of the 'profile' and 'gap' parts (not in the default parts); 32768, or 128 "
                         "under --tiny (the interpreter takes minutes per kernel call at 32k)")
    args = ap.parse_args()
    args.Ts = [int(x) for x in args.Ts.split(",")]
    args.sweep_Ts = [int(x) for x in args.sweep_Ts.split(",")]
    args.sweep_deadline = args.deadline * (0.6 if args.quick else 0.25)
    parts = args.parts.split(",")
    out_dir = Path(args.out)
    dev = torch.device("cpu") if args.tiny else torch.device("cuda")
    args.dtype = torch.float32 if args.tiny else torch.bfloat16
    if args.tiny:
        args.Ts = [64, 128]
    if args.profile_T is None:
        args.profile_T = 128 if args.tiny else 32768
    details = {**device_doc(dev), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    log(json.dumps(details))
    if "kernel" in parts and (not args.tiny or os.environ.get("TRITON_INTERPRET") == "1"):
        details["kernel_checks"] = kernel_checks(args, dev)
        write(out_dir / "census.details.json", details)
    if "sweep" in parts and not args.tiny:
        details["per_kernel_ms"] = sweep(args, dev)
        write(out_dir / "census.details.json", details)
    if "api" in parts:
        details["api_rows"] = public_api(args, dev, out_dir)
    if "profile" in parts:
        details["profile"] = profile(args, dev, out_dir)
    if "gap" in parts:
        details["gap"] = kernel_gap(args, dev, out_dir)
    details["tuning"] = tuning.summary()
    write(out_dir / "census.details.json", details)
    if "explorer" in parts and time.time() - STARTED < args.deadline + 40:
        try:
            explorer_gpu(args, dev, out_dir)
        except Exception as e:  # noqa: BLE001 - reported in the log, the other sections still run
            log(f"[explorer] failed: {type(e).__name__}: {e}")
    if "shared" in parts and time.time() - STARTED < args.deadline + 80:
        try:
            shared_gpu(args, dev, out_dir)
        except Exception as e:  # noqa: BLE001
            log(f"[shared] failed: {type(e).__name__}: {e}")
    log("T       plain_s  census_s  ratio  extra_GiB")
    for r in details.get("api_rows", []):
        log(f"{r['T']:<7} {r['plain_s']:.3f}    {r['census_s']:.3f}     {r['census_ratio']:.3f}  "
            f"{r['census_extra_gib']:.3f}")
    log(f"total {time.time() - STARTED:.0f}s")


if __name__ == "__main__":
    main()
