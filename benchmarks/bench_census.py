"""Census benchmark and GPU correctness run (issue 7).

On the GPU machine (one H100):
    PYTHONUNBUFFERED=1 python benchmarks/bench_census.py --out $OUT/census.json
A CPU dry run of the same code on a tiny model (the Triton parts under TRITON_INTERPRET=1):
    python benchmarks/bench_census.py --tiny --out /tmp/census_tiny.json

What it does, in one process:
1. Kernel checks on random bf16 q/k (T = 2048, H = 32, d = 128): the Triton statistics against the float32 torch path
   on the same q/k (causal + GQA, sliding window, padding mask, bidirectional), and flash attention's lse against a
   float32 lse; then a block-size sweep at T = 8192 (the best config is used below).
2. Model-level correctness at T <= 2048 on the Llama-2-7B-shaped model (random bf16 weights): census alpha / entropy /
   row max against eager attention (output_attentions, the probabilities as the model computes them), and the census
   forward's last hidden state against the plain SDPA forward.
3. Timings per T: plain SDPA forward of the base model (no LM head), the census forward (Triton), its extra peak
   memory, the eager forward with output_attentions (None where it runs out of memory), and the naive chunked fp32
   recompute (the census's torch path on the GPU).
Timings print and go to the JSON (never asserted). Results land in --out as a list of
{"T","plain_s","census_s","census_extra_gib","eager_s","naive_s","device", ...}; details in <out>.details.json.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from sinkviz.census import kernels as ck  # noqa: E402
from sinkviz.census import Census  # noqa: E402

GIB = 1 << 30


def log(*a):
    print(*a, flush=True)


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def timeit(fn, dev, reps: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    sync(dev)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync(dev)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    ok = torch.isfinite(a) & torch.isfinite(b)
    return float((a[ok] - b[ok]).norm() / b[ok].norm().clamp_min(1e-30))


def build_model(args, dev):
    from transformers import LlamaConfig, LlamaModel

    if args.tiny:
        cfg = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=4096)
    else:
        cfg = LlamaConfig(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=args.layers,
                          num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=32768,
                          rope_theta=10000.0)
    cfg._attn_implementation = "sdpa"
    old = torch.get_default_dtype()
    torch.set_default_dtype(args.dtype)
    try:
        with torch.device(dev):
            torch.manual_seed(0)
            model = LlamaModel(cfg)
    finally:
        torch.set_default_dtype(old)
    model.set_attn_implementation("sdpa")
    return model.eval(), cfg


# ----------------------------------------------------------------------------------------------------------------------
def kernel_checks(args, dev, details):
    H, Hkv, d = (4, 2, 16) if args.tiny else (32, 8, 128)
    T = 96 if args.tiny else 2048
    dt = args.dtype
    bm, bn = (16, 16) if args.tiny else (128, 64)
    opts = dict(block_m=bm, block_n=bn, num_warps=1 if args.tiny else 8, num_stages=1 if args.tiny else 3)
    out = {}
    torch.manual_seed(1)
    q = (torch.randn(2, H, T, d, device=dev) * 1.5).to(dt)
    k = (torch.randn(2, Hkv, T, d, device=dev) * 1.5).to(dt)
    k[:, :, 0] *= 4  # a strong first key, as in a sink
    qv = torch.ones(2, T, dtype=torch.bool, device=dev)
    lengths = torch.tensor([T, T * 2 // 3], device=dev)
    qv_pad = torch.arange(T, device=dev)[None] < lengths[:, None]
    i = torch.arange(T, device=dev)
    pad_mask = ((i[None, :] <= i[:, None])[None] & qv_pad[:, None, :])[:, None]
    W = 16 if args.tiny else 512
    cases = {
        "causal_gqa": dict(causal=True, q_valid=qv),
        "sliding_window": dict(causal=True, window=W, q_valid=qv),
        "padding_mask": dict(causal=True, mask=pad_mask, q_valid=qv_pad),
        "bidirectional": dict(causal=False, q_valid=qv),
    }
    scale = d ** -0.5
    cases["causal_gqa_fp32_inputs"] = dict(causal=True, q_valid=qv, _fp32=True)
    for name, kw in cases.items():
        kw = dict(kw)
        fp32 = kw.pop("_fp32", False)
        q_, k_ = (q.float(), k.float()) if fp32 else (q, k)
        ref = ck.stats_torch(q_, k_, scaling=scale, chunk_elems=1 << 26, **kw)
        rows = kw["q_valid"][:, None, :].expand(-1, H, -1)
        res = {}
        for lse_src in ("kernel", "given"):
            st = ck.stats_triton(q_, k_, scaling=scale, lse=None if lse_src == "kernel" else ref.lse, **kw, **opts)
            errs = {
                f: rel_err(getattr(st, f)[rows] if f != "colsum" else st.colsum, getattr(ref, f)[rows] if f != "colsum" else ref.colsum)
                for f in ("colsum", "entropy", "rowmax", "first_mass", "lse")
            }
            errs["count_equal"] = bool(torch.equal(st.count, ref.count))
            errs["finite"] = bool(all(torch.isfinite(getattr(st, f)[rows]).all() for f in ("entropy", "rowmax", "lse")))
            res[lse_src] = errs
        out[name] = res
        log(f"[kernel] {name}: {json.dumps(res)}")
    # the fused ops' lse against a float32 lse (causal, no GQA)
    kk = k.repeat_interleave(H // Hkv, 1)
    ref_lse = ck.math_reference_lse(q, k, scale, causal=True)
    ref_out = torch.nn.functional.scaled_dot_product_attention(q, kk, kk, is_causal=True, scale=scale)
    for src in ("flash", "cudnn"):
        fl = ck.forward_with_lse(q, kk, kk, scaling=scale, causal=True, source=src)
        out[f"{src}_lse"] = None if fl is None else {
            "lse_rel_err": rel_err(fl[1], ref_lse), "out_rel_err_vs_sdpa": rel_err(fl[0], ref_out)}
        log(f"[kernel] {src} lse: {out[f'{src}_lse']}")
    details["kernel_checks"] = out


def sweep(args, dev, details):
    if args.tiny or dev.type != "cuda":
        return dict(block_m=16, block_n=16, num_warps=1, num_stages=1)
    import triton

    H, d = 32, 128
    scale = d ** -0.5
    res = {}
    configs = [(128, 64, 4, 3), (128, 64, 4, 4), (128, 64, 8, 3), (128, 128, 8, 3), (256, 64, 8, 3), (64, 64, 4, 3),
               (128, 32, 4, 4)]
    best = None
    for T in (8192, 32768):
        q = torch.randn(1, H, T, d, device=dev, dtype=args.dtype)
        k = torch.randn(1, H, T, d, device=dev, dtype=args.dtype)
        v = torch.randn(1, H, T, d, device=dev, dtype=args.dtype)
        fwd = {"sdpa": lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale)}
        for src in ("flash", "cudnn"):
            if ck.forward_with_lse(q, k, v, scaling=scale, causal=True, source=src) is not None:
                fwd[src] = (lambda s_: lambda: ck.forward_with_lse(q, k, v, scaling=scale, causal=True, source=s_))(src)
        r = {f"{n}_ms": triton.testing.do_bench(f, warmup=10, rep=50, return_mode="median") for n, f in fwd.items()}
        log(f"[sweep] T={T} forward ops: {r}")
        fl = ck.forward_with_lse(q, k, v, scaling=scale, causal=True, source="flash")
        lse = fl[1] if fl is not None else ck.stats_triton(q, k, scaling=scale).lse
        timings = {}
        for bm, bn, nw, ns in configs:
            opts = dict(block_m=bm, block_n=bn, num_warps=nw, num_stages=ns)
            try:
                ms = triton.testing.do_bench(lambda: ck.stats_triton(q, k, scaling=scale, lse=lse, **opts),
                                             warmup=10, rep=50, return_mode="median")
            except Exception as e:  # noqa: BLE001 - a config the compiler rejects (shared memory)
                log(f"[sweep] {opts} failed: {type(e).__name__}: {str(e)[:200]}")
                continue
            key = f"{bm}x{bn}w{nw}s{ns}"
            timings[key] = ms
            r[f"stats_{key}_ms"] = ms
            log(f"[sweep] T={T} stats {key}: {ms:.3f} ms")
            if T == 32768 and (best is None or ms < best[0]):
                best = (ms, opts)
        if T == 32768:
            r["stats_best_with_lse_pass_ms"] = triton.testing.do_bench(
                lambda: ck.stats_triton(q, k, scaling=scale, lse=None, **best[1]), warmup=5, rep=20, return_mode="median")
            r["best"] = best[1]
            r["best_qk_tflops"] = 2 * H * T * T * d / 2 / (best[0] * 1e-3) / 1e12
            log(f"[sweep] T={T} best {best[1]} {best[0]:.3f} ms = {r['best_qk_tflops']:.0f} TFLOP/s of causal QK^T")
        res[str(T)] = r
        del q, k, v
        torch.cuda.empty_cache()
    details["sweep_H32_d128"] = res
    return best[1]


def model_correctness(args, model, cfg, dev, opts, details):
    Ts = [64] if args.tiny else [1024, 2048]
    out = {}
    for T in Ts:
        torch.manual_seed(T)
        ids = torch.randint(0, cfg.vocab_size, (1, T), device=dev)
        c = Census(model, seq_len=T, backend="triton", triton_opts=opts, n_keys=16)
        with torch.inference_mode():
            model.set_attn_implementation("sdpa")
            plain = model(input_ids=ids, use_cache=False).last_hidden_state
        # the census forward's own output: hook the final norm input is not needed; compare last hidden states
        captured = {}
        h = model.norm.register_forward_hook(lambda m, i, o: captured.__setitem__("h", o.detach().clone()))
        try:
            c.add(ids)
        finally:
            h.remove()
        res = c.result()
        ce = Census(model, seq_len=T, backend="triton", triton_opts=opts, n_keys=16, attn_output="eager")
        ce.add(ids)
        res_e = ce.result()
        ct = Census(model, seq_len=T, backend="torch", chunk_elems=1 << 27, n_keys=16)
        ct.add(ids)
        res_t = ct.result()
        model.set_attn_implementation("eager")
        try:
            with torch.inference_mode():
                o = model(input_ids=ids, use_cache=False, output_attentions=True)
            count = torch.arange(T, 0, -1, device=dev, dtype=torch.float32)
            alpha_e, ent_e, rmax_e, fm_e = [], [], [], []
            for a in o.attentions:  # one layer at a time: (H, T, T) probabilities, as the model rounds them
                a = a[0].float()
                alpha_e.append(a.sum(-2) / count)
                ent_e.append(-(a * torch.where(a > 0, a.log(), torch.zeros_like(a))).sum(-1).mean(-1))
                rmax_e.append(a.amax(-1).mean(-1))
                fm_e.append(a[..., :4].sum(-1).mean(-1))
                del a
            del o
        finally:
            model.set_attn_implementation("sdpa")
        alpha_e, ent_e, rmax_e, fm_e = (torch.stack(x) for x in (alpha_e, ent_e, rmax_e, fm_e))
        a_c = torch.from_numpy(res.alpha_mean()).to(dev)
        a_t = torch.from_numpy(res_t.alpha_mean()).to(dev)
        a_ee = torch.from_numpy(res_e.alpha_mean()).to(dev)
        r = {
            "lse_source": res.meta.get("lse_source"),
            "same_trajectory": {  # census forward with the model's eager attention vs the eager forward
                "alpha_rel_err": rel_err(a_ee, alpha_e),
                "alpha_max_abs_err": float((a_ee - alpha_e).abs().max()),
                "entropy_rel_err": rel_err(torch.from_numpy(res_e.entropy[0]).to(dev), ent_e),
                "row_max_rel_err": rel_err(torch.from_numpy(res_e.row_max[0]).to(dev), rmax_e),
                "first_mass_rel_err": rel_err(torch.from_numpy(res_e.first_mass[0]).to(dev), fm_e),
            },
            "layer0_alpha_rel_err_fused_vs_eager": rel_err(a_c[0], alpha_e[0]),
            "alpha_rel_err_vs_eager": rel_err(a_c, alpha_e),
            "alpha_max_abs_err_vs_eager": float((a_c - alpha_e).abs().max()),
            "alpha1_max_abs_err_vs_eager": float((a_c[..., 0] - alpha_e[..., 0]).abs().max()),
            "entropy_rel_err_vs_eager": rel_err(torch.from_numpy(res.entropy[0]).to(dev), ent_e),
            "row_max_rel_err_vs_eager": rel_err(torch.from_numpy(res.row_max[0]).to(dev), rmax_e),
            "first_mass_rel_err_vs_eager": rel_err(torch.from_numpy(res.first_mass[0]).to(dev), fm_e),
            "alpha_rel_err_triton_vs_torch_fp32": rel_err(a_c, a_t),
            "entropy_rel_err_triton_vs_torch_fp32": rel_err(torch.from_numpy(res.entropy), torch.from_numpy(res_t.entropy)),
            "last_hidden_rel_err_census_vs_plain_sdpa": rel_err(captured["h"], plain),
            "sink1_eps0.3_census": res.sink(0.3, [1])[1],
            "mean_alpha1": float(alpha_e[..., 0].mean()),
        }
        out[str(T)] = r
        log(f"[correctness] T={T}: {json.dumps(r)}")
        del alpha_e, a_c, a_t
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    details["model_correctness"] = out


# ----------------------------------------------------------------------------------------------------------------------
def bench(args, model, cfg, dev, opts, details, results, out_path):
    Ts = [64, 128] if args.tiny else args.Ts
    devname = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    for T in Ts:
        torch.manual_seed(T)
        ids = torch.randint(0, cfg.vocab_size, (1, T), device=dev)
        reps = 3 if T <= 8192 else 2
        row = {"T": T, "device": devname, "layers": cfg.num_hidden_layers, "batch": 1}

        def plain():
            with torch.inference_mode():
                model(input_ids=ids, use_cache=False)

        def peak(fn):
            if dev.type != "cuda":
                fn()
                return 0
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(dev)
            base = torch.cuda.memory_allocated(dev)
            fn()
            sync(dev)
            return torch.cuda.max_memory_allocated(dev) - base

        row["plain_s"] = timeit(plain, dev, reps)
        plain_peak = peak(plain)
        c = Census(model, seq_len=T, backend="triton", triton_opts=opts)
        row["census_s"] = timeit(lambda: c.add(ids), dev, reps)
        c = Census(model, seq_len=T, backend="triton", triton_opts=opts)
        census_peak = peak(lambda: c.add(ids))
        row["census_extra_gib"] = (census_peak - plain_peak) / GIB
        row["plain_peak_gib"] = plain_peak / GIB
        row["census_ratio"] = row["census_s"] / row["plain_s"]
        row["lse_source"] = c.result().meta.get("lse_source")
        log(f"[bench] T={T} plain {row['plain_s']:.3f}s census {row['census_s']:.3f}s "
            f"(x{row['census_ratio']:.2f}) extra {row['census_extra_gib']:.3f} GiB")
        # eager with output_attentions
        row["eager_s"] = None
        if T <= args.eager_max:
            model.set_attn_implementation("eager")

            def eager():
                with torch.inference_mode():
                    o = model(input_ids=ids, use_cache=False, output_attentions=True)
                del o

            try:
                row["eager_s"] = timeit(eager, dev, 2 if T <= 2048 else 1)
                row["eager_extra_gib"] = (peak(eager) - plain_peak) / GIB
            except torch.OutOfMemoryError:
                row["eager_note"] = "out of memory"
            finally:
                model.set_attn_implementation("sdpa")
                if dev.type == "cuda":
                    torch.cuda.empty_cache()
        else:
            row["eager_note"] = f"skipped (T > {args.eager_max}: out of memory at 8k in the issue's measurement)"
        log(f"[bench] T={T} eager {row['eager_s']} {row.get('eager_note', '')}")
        # naive chunked fp32 recompute = the census's torch path on the GPU
        row["naive_s"] = None
        if T <= args.naive_max:
            cn = Census(model, seq_len=T, backend="torch", chunk_elems=1 << 28)
            try:
                row["naive_s"] = timeit(lambda: cn.add(ids), dev, 1, warmup=1 if T <= 4096 else 0)
            except torch.OutOfMemoryError:
                row["naive_note"] = "out of memory"
        log(f"[bench] T={T} naive {row['naive_s']}")
        results.append(row)
        write(out_path, results, details)


def write(out_path, results, details):
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    tmp = str(out_path) + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(results, fh, indent=1)
    os.replace(tmp, out_path)
    with open(str(out_path).replace(".json", "") + ".details.json", "w") as fh:
        json.dump(details, fh, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", action="store_true", help="CPU dry run on a tiny model")
    ap.add_argument("--out", default="benchmarks/results/census.json")
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--Ts", default="1024,2048,4096,8192,16384,32768")
    ap.add_argument("--eager-max", type=int, default=8192)
    ap.add_argument("--naive-max", type=int, default=32768)
    ap.add_argument("--skip", default="", help="comma list of sections to skip: kernel,sweep,correctness,bench")
    args = ap.parse_args()
    args.Ts = [int(x) for x in args.Ts.split(",")]
    skip = set(filter(None, args.skip.split(",")))
    dev = torch.device("cpu") if args.tiny else torch.device("cuda")
    args.dtype = torch.float32 if args.tiny else torch.bfloat16
    details = {"device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
               "torch": torch.__version__, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    try:
        import transformers
        import triton

        details["transformers"] = transformers.__version__
        details["triton"] = triton.__version__
    except Exception:  # noqa: BLE001
        pass
    log(json.dumps(details))
    results: list = []
    t0 = time.time()
    if "kernel" not in skip:
        kernel_checks(args, dev, details)
    opts = sweep(args, dev, details) if "sweep" not in skip else dict(block_m=128, block_n=64, num_warps=8, num_stages=3)
    details["triton_opts"] = opts
    write(args.out, results, details)
    model, cfg = build_model(args, dev)
    details["model"] = {"shape": "Llama-2-7B" if not args.tiny else "tiny", "layers": cfg.num_hidden_layers,
                        "hidden": cfg.hidden_size, "heads": cfg.num_attention_heads, "dtype": str(args.dtype),
                        "weights": "random (seed 0)", "forward": "base model (LlamaModel), no LM head, batch 1"}
    log(f"[model] built in {time.time() - t0:.1f}s")
    if "correctness" not in skip:
        model_correctness(args, model, cfg, dev, opts, details)
        write(args.out, results, details)
    if "bench" not in skip:
        bench(args, model, cfg, dev, opts, details, results, args.out)
    write(args.out, results, details)
    log("\nT      plain_s  census_s  ratio  extra_GiB  eager_s  naive_s")
    for r in results:
        e = "OOM" if r["eager_s"] is None else f"{r['eager_s']:.3f}"
        n = "-" if r["naive_s"] is None else f"{r['naive_s']:.3f}"
        log(f"{r['T']:<6} {r['plain_s']:.3f}    {r['census_s']:.3f}     {r['census_ratio']:.2f}   "
            f"{r['census_extra_gib']:.3f}      {e:>7}  {n}")
    log(f"total {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
