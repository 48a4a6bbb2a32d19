"""Update time of the explorer's attention map, measured in a real browser (JupyterLab in Chromium).

For T = 512 tokens of the default model (smollm2-135m, 30 layers x 9 heads), four explorers are opened on
the same cached Trace, one per way of drawing the map:

* "canvas": sinkviz's canvas heat-map widget (raw float32 bytes -> colour table -> ImageData; no plotly.js);
* "anywidget": sinkviz's own small anywidget (figure JSON + values as raw float32 bytes, Plotly.react);
* "figurewidget": a plotly FigureWidget updated in place (values as a base64 typed array);
* "output": a fresh go.Figure re-rendered into an ipywidgets Output as the plotly mime bundle.

For each, the layer slider is moved with the keyboard (ArrowRight/ArrowLeft on its handle, as a user
would) N times. Browser-side, a keydown listener and a MutationObserver time each update from the key press
to the moment the map's title shows the new layer (plotly draws title and heat-map in the same pass), and to
the next animation frame after it ("paint"). Kernel-side, the explorer records how long each update took in
Python (slice the cached trace, build the patch, send it). No forward pass runs during the measurement.

    .venv/bin/python benchmarks/bench_explorer.py [--moves 40] [--tokens 512]

Writes benchmarks/results/explorer.json (with the machine named) and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))

from lab_harness import chromium_page, jupyterlab, open_and_run, write_notebook  # noqa: E402

MODES = ("canvas", "anywidget", "figurewidget", "output")

ARM = """([root, expected]) => {
  const box = document.querySelector(root + ' .sinkviz-map');
  window.__bench = new Promise((resolve, reject) => {
    let t0 = null;
    const onKey = () => { if (t0 === null) t0 = performance.now(); };
    document.addEventListener('keydown', onKey, true);
    const done = () => { const t = box.querySelector('.sv-title, .gtitle'); return t && t.textContent.includes(expected); };
    const timer = setTimeout(() => { obs.disconnect(); reject(new Error('no update for ' + expected)); }, 30000);
    const obs = new MutationObserver(() => {
      if (t0 === null || !done()) return;
      obs.disconnect(); clearTimeout(timer);
      const dom = performance.now() - t0;
      requestAnimationFrame(() => { document.removeEventListener('keydown', onKey, true);
                                    resolve({dom: dom, paint: performance.now() - t0}); });
    });
    obs.observe(box, {subtree: true, childList: true, characterData: true});
  });
}"""


# Counts the bytes the page sends to the kernel over websockets, and drops any single message above
# DROP_BYTES (recording it): Playwright's driver cannot receive a CDP event larger than 512 MB, and
# FigureWidget's JS->Python trace deltas for a 512 x 512 heat-map exceed that.
DROP_BYTES = 200_000_000
WS_COUNTER = """(() => { const orig = WebSocket.prototype.send;
  window.__wsSent = 0; window.__wsDropped = [];
  WebSocket.prototype.send = function (data) {
    const n = (data && (data.byteLength || data.length || data.size)) || 0;
    window.__wsSent += n;
    if (n > %d) { window.__wsDropped.push(n); return; }
    return orig.call(this, data); }; })()""" % DROP_BYTES


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import plotly

    from lab_harness import CHROMIUM

    return {"host": platform.node(), "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "plotly": plotly.__version__, "browser": CHROMIUM}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[k]


def summary(values: list[float]) -> dict:
    return {"n": len(values), "median_ms": round(statistics.median(values), 1), "p95_ms": round(pct(values, 95), 1),
            "min_ms": round(min(values), 1), "max_ms": round(max(values), 1)}


def notebook_cells(model: str, tokens: int, timings_file: Path) -> list[str]:
    return [
        "import json, threading, torch, sinkviz\n"
        "from sinkviz.widgets.explorer import Explorer, EXPLORER_CAPTURE\n"
        f"m = sinkviz.load({model!r})\n"
        "words = ('The quick brown fox jumps over the lazy dog while the cat watches from the warm window. ' * 200)\n"
        f"ids = m.tokenizer(words)['input_ids'][:{tokens}]\n"
        "tr = sinkviz.trace(m, torch.tensor(ids), capture=EXPLORER_CAPTURE)\n"
        "print(tr)",
        *[f"ex_{mode} = Explorer(m, trace=tr, layer=0, head=0, render={mode!r})\n"
          f"ex_{mode}.add_class('bench-{mode}')\nex_{mode}" for mode in MODES],
        # The kernel writes the explorers' Python-side update times to a file every half second.
        "def _dump():\n"
        f"    data = {{mode: globals()['ex_' + mode].update_seconds for mode in {list(MODES)!r}}}\n"
        f"    open({str(timings_file)!r}, 'w').write(json.dumps(data))\n"
        "    threading.Timer(0.5, _dump).start()\n"
        "_dump()",
    ]


def run(model: str, tokens: int, moves: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix="sinkviz-bench-"))
    timings_file = root / "kernel_timings.json"
    write_notebook(root / "bench.ipynb", notebook_cells(model, tokens, timings_file))
    browser: dict[str, dict[str, list[float]]] = {}
    started = time.perf_counter()
    with jupyterlab(root) as (base, token):
        with chromium_page(viewport=(1500, 2600)) as (page, errors):
            page.context.add_init_script(WS_COUNTER)
            open_and_run(page, base, token, "bench.ipynb")
            for mode in MODES:
                page.wait_for_function(
                    f"() => document.querySelector('.bench-{mode} .sinkviz-map :is(.sv-title, .gtitle)')?.textContent"
                    ".includes('layer 0, head 0')", timeout=400_000)
            setup_s = time.perf_counter() - started
            print(f"  set up in {setup_s:.0f} s", flush=True)
            page.wait_for_timeout(3000)
            setup_sent = page.evaluate("() => window.__wsSent")
            setup_dropped = page.evaluate("() => window.__wsDropped.slice()")
            for mode in MODES:
                root_sel = f".bench-{mode}"
                handle = page.locator(f"{root_sel} .sinkviz-layer-slider .noUi-handle")
                handle.scroll_into_view_if_needed()
                handle.focus()
                top = int(float(handle.get_attribute("aria-valuemax")))
                layer, dom, paint, step = 0, [], [], 1
                sent0 = page.evaluate("() => window.__wsSent")
                dropped0 = page.evaluate("() => window.__wsDropped.length")
                for i in range(moves + 3):  # the first 3 are warm-up
                    if not 0 <= layer + step <= top:
                        step = -step
                    key = "ArrowRight" if step > 0 else "ArrowLeft"
                    layer += step
                    page.evaluate(ARM, [root_sel, f"layer {layer}, head 0"])
                    page.keyboard.press(key)
                    result = page.evaluate("() => window.__bench")
                    if i >= 3:
                        dom.append(result["dom"])
                        paint.append(result["paint"])
                page.wait_for_timeout(2000)  # let trailing messages (e.g. JS->Python deltas) go out
                browser[mode] = {"dom": dom, "paint": paint,
                                 "sent_bytes_per_move": (page.evaluate("() => window.__wsSent") - sent0) / (moves + 3),
                                 "dropped_messages": page.evaluate(f"() => window.__wsDropped.slice({dropped0})")}
                print(f"  {mode}: {len(dom)} moves measured", flush=True)
                page.locator(root_sel).screenshot(path=str(REPO / "test-artifacts" / f"bench_{mode}.png"))
            page.wait_for_timeout(1200)
            kernel = json.loads(timings_file.read_text())
            console_errors = list(errors)
    total_s = time.perf_counter() - started
    results = {"benchmark": "explorer map update, slider move, in JupyterLab + Chromium",
               "model": model, "tokens": tokens, "moves_per_mode": moves, "machine": machine(),
               "setup_seconds": round(setup_s, 1), "total_seconds": round(total_s, 1),
               "browser_to_kernel_bytes_during_setup": setup_sent, "messages_dropped_during_setup": setup_dropped,
               "console_errors": console_errors, "modes": {}}
    for mode in MODES:
        py = [1000 * s for s in kernel[mode][1:]]  # the first entry is the initial draw
        results["modes"][mode] = {
            "browser_keypress_to_redraw": summary(browser[mode]["dom"]),
            "browser_keypress_to_paint": summary(browser[mode]["paint"]),
            "kernel_python_update": summary(py[-moves:]) if py else None,
            "browser_to_kernel_bytes_per_move": round(browser[mode]["sent_bytes_per_move"]),
            "messages_dropped_over_200MB": browser[mode]["dropped_messages"],
        }
    usable = [m for m in MODES if not results["modes"][m]["messages_dropped_over_200MB"]] or list(MODES)
    results["chosen"] = min(usable, key=lambda m: results["modes"][m]["browser_keypress_to_paint"]["median_ms"])
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--moves", type=int, default=40)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "explorer.json"))
    args = parser.parse_args()
    (REPO / "test-artifacts").mkdir(exist_ok=True)
    results = run(args.model, args.tokens, args.moves)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    m = results["machine"]
    print(f"explorer update, {args.model}, T={args.tokens}, on {m['cpu']} ({m['cores']} cores):")
    for mode, r in results["modes"].items():
        b, p, k = r["browser_keypress_to_redraw"], r["browser_keypress_to_paint"], r["kernel_python_update"]
        print(f"  {mode:13s} key->redraw median {b['median_ms']:7.1f} ms p95 {b['p95_ms']:7.1f} | key->paint median "
              f"{p['median_ms']:7.1f} ms p95 {p['p95_ms']:7.1f} | kernel median {k['median_ms']:6.1f} ms p95 {k['p95_ms']:6.1f}")
    print(f"  chosen: {results['chosen']}; console errors: {len(results['console_errors'])}; wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
