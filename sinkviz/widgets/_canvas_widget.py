"""A heat-map widget drawn on a <canvas>: the explorer's fast path for its two live views.

Measured in Chromium on this 2-core machine (benchmarks/results/explorer.json): redrawing a 512 x 512 map
with plotly.js costs ~70-90 ms per update on its own (axes, 512 category labels, colour mapping), on top of
the ~50-60 ms that any slider -> kernel -> browser round trip takes in JupyterLab. Here the values arrive as
raw float32 bytes, are mapped through a 256-entry colour table into an ImageData (one pixel per cell) and
scaled by the browser; labels, hover read-out, colour bar and the selection outline are a few DOM nodes.
Clicks go back to Python as (x, y) data values.

What is exported for papers is not this widget: `sinkviz.export` writes the plotly figure of the same view.
Nothing is loaded from the network; the module is a few kB.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


_ESM = r"""
const STOPS = __STOPS__;
function lut(stops) {
  const rgb = stops.map((h) => [1, 3, 5].map((k) => parseInt(h.slice(k, k + 2), 16)));
  const out = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * (rgb.length - 1), k = Math.min(Math.floor(t), rgb.length - 2), f = t - k;
    for (let c = 0; c < 3; c++) out[3 * i + c] = Math.round(rgb[k][c] * (1 - f) + rgb[k + 1][c] * f);
  }
  return out;
}
const LUT = lut(STOPS);
const fmt = (v) => (Math.abs(v) >= 1000 || (Math.abs(v) < 0.001 && v !== 0)) ? v.toExponential(2) : +v.toPrecision(4) + "";
function el(tag, cls, parent, style) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (style) Object.assign(e.style, style);
  if (parent) parent.appendChild(e);
  return e;
}

function render({ model, el: host }) {
  const root = el("div", "sv-heat", host, { font: "12px sans-serif", color: "#222", position: "relative",
                                            display: "inline-block", userSelect: "none" });
  const title = el("div", "sv-title", root, { fontSize: "13px", margin: "2px 0 6px 4px", whiteSpace: "pre",
                                              overflow: "hidden", textOverflow: "ellipsis" });
  const row = el("div", null, root, { display: "flex", alignItems: "flex-start" });
  const yTitle = el("div", "sv-ytitle", row, { writingMode: "vertical-rl", transform: "rotate(180deg)",
                                               alignSelf: "center", marginRight: "2px" });
  const yAxis = el("div", "sv-yaxis", row, { position: "relative" });
  const col = el("div", null, row, {});
  const plot = el("div", "sv-plot", col, { position: "relative", border: "1px solid #ccc", cursor: "crosshair" });
  const canvas = el("canvas", "sv-canvas", plot, { display: "block", imageRendering: "pixelated" });
  const outline = el("div", "sv-selected", plot, { position: "absolute", border: "2.5px solid #ff3b30",
                                                   boxSizing: "border-box", pointerEvents: "none", display: "none" });
  const xAxis = el("div", "sv-xaxis", col, { position: "relative" });
  const xTitle = el("div", "sv-xtitle", col, { textAlign: "center" });
  const bar = el("div", "sv-colorbar", row, { marginLeft: "10px", display: "flex", flexDirection: "column",
                                               alignItems: "flex-start" });
  const note = el("div", "sv-note", root, { color: "#a0522d", fontSize: "11px", marginTop: "4px" });
  const tip = el("div", "sv-tip", root, { position: "absolute", background: "rgba(30,30,30,0.9)", color: "white",
                                          padding: "3px 6px", borderRadius: "3px", pointerEvents: "none",
                                          display: "none", whiteSpace: "pre", fontSize: "11px", zIndex: 10 });
  let state = null;

  // Ticks thinned to one per 13-14 px (never overlapping) and cut to `tick_chars` characters (never running into
  // the axis title); the hover read-out shows the whole label.
  function ticks(axis, labels, size, vertical) {
    axis.replaceChildren();
    const n = labels.length;
    if (!n) return;
    const room = vertical ? 13 : 14;
    const step = Math.max(1, Math.ceil((n * room) / size));
    const chars = model.get("tick_chars");
    for (let i = 0; i < n; i += step) {
      const pos = ((i + 0.5) / n) * size;
      const t = el("div", "sv-tick", axis, { position: "absolute", whiteSpace: "nowrap", fontSize: "10px" });
      t.textContent = labels[i].length > chars ? labels[i].slice(0, chars - 1).trimEnd() + "\u2026" : labels[i];
      t.title = labels[i];
      if (vertical) Object.assign(t.style, { right: "3px", top: pos - 6 + "px" });
      else Object.assign(t.style, { left: pos + "px", top: "2px", transformOrigin: "0 0",
                                    transform: labels.length > 12 ? "rotate(60deg)" : "translateX(-50%)" });
    }
  }

  function draw() {
    const shape = model.get("shape");
    const dv = model.get("z");
    if (!shape || shape.length !== 2 || !dv) return;
    const [rows, cols] = shape;
    const z = new Float32Array(dv.buffer.slice(dv.byteOffset, dv.byteOffset + dv.byteLength));
    const zmin = model.get("zmin"), zmax = model.get("zmax"), span = zmax > zmin ? zmax - zmin : 1;
    canvas.width = cols; canvas.height = rows;
    const img = new ImageData(cols, rows), px = img.data;
    for (let k = 0; k < rows * cols; k++) {
      const v = z[k];
      if (v !== v) { px[4 * k + 3] = 0; continue; }  // NaN: not visible, left transparent
      const i = Math.max(0, Math.min(255, Math.round(((v - zmin) / span) * 255)));
      px[4 * k] = LUT[3 * i]; px[4 * k + 1] = LUT[3 * i + 1]; px[4 * k + 2] = LUT[3 * i + 2]; px[4 * k + 3] = 255;
    }
    canvas.getContext("2d").putImageData(img, 0, 0);
    const w = model.get("width"), h = model.get("height");
    canvas.style.width = w + "px"; canvas.style.height = h + "px";
    const xl = model.get("x_labels"), yl = model.get("y_labels");
    const yw = model.get("y_axis_width"), xh = model.get("x_axis_height");
    yAxis.style.width = yw + "px"; yAxis.style.height = h + "px";
    xAxis.style.width = w + "px"; xAxis.style.height = xh + "px";
    ticks(xAxis, xl, w, false);
    ticks(yAxis, yl, h, true);
    title.textContent = model.get("title");
    title.title = model.get("title");  // the whole title on hover; a long one (a model's path) ends in "…"
    title.style.maxWidth = yw + w + 70 + "px";
    note.textContent = model.get("note");
    xTitle.textContent = model.get("x_title");
    yTitle.textContent = model.get("y_title");
    bar.replaceChildren();
    el("div", null, bar, { marginBottom: "3px" }).textContent = model.get("colorbar_title");
    const barRow = el("div", null, bar, { display: "flex" });
    const grad = el("canvas", null, barRow, { width: "12px", height: h * 0.8 + "px" });
    grad.width = 1; grad.height = 256;
    const g = grad.getContext("2d"), gi = g.createImageData(1, 256);
    for (let i = 0; i < 256; i++) for (let c = 0; c < 3; c++) { gi.data[4 * i + c] = LUT[3 * (255 - i) + c]; gi.data[4 * i + 3] = 255; }
    g.putImageData(gi, 0, 0);
    const lab = el("div", null, barRow, { position: "relative", height: h * 0.8 + "px", marginLeft: "3px", width: "44px" });
    for (const f of [0, 0.5, 1]) {
      el("div", null, lab, { position: "absolute", top: (1 - f) * h * 0.8 - 6 + "px", fontSize: "10px" }).textContent =
        fmt(zmin + f * (zmax - zmin));
    }
    const sel = model.get("selected");
    if (sel && sel.length === 2 && sel[0] >= 0) {
      Object.assign(outline.style, { display: "block", left: (sel[1] / cols) * w + "px", top: (sel[0] / rows) * h + "px",
                                     width: Math.max(4, w / cols) + "px", height: Math.max(4, h / rows) + "px" });
    } else outline.style.display = "none";
    state = { z, rows, cols, w, h, xl, yl, xv: model.get("x_values"), yv: model.get("y_values") };
    root.dataset.revision = model.get("revision");
  }

  function cell(ev) {
    if (!state) return null;
    const r = canvas.getBoundingClientRect();
    const j = Math.floor(((ev.clientX - r.left) / r.width) * state.cols);
    const i = Math.floor(((ev.clientY - r.top) / r.height) * state.rows);
    if (i < 0 || j < 0 || i >= state.rows || j >= state.cols) return null;
    return [i, j];
  }
  canvas.addEventListener("mousemove", (ev) => {
    const c = cell(ev);
    const v = c && state.z[c[0] * state.cols + c[1]];
    if (!c || v !== v) { tip.style.display = "none"; return; }
    const tag = model.get("hover_tag");  // where the counts start, once, after the last index
    tip.textContent = (model.get("hover_y") ? model.get("hover_y") + ": " + state.yl[c[0]] + "\n" : "") +
      model.get("hover_x") + ": " + state.xl[c[1]] + (tag ? " " + tag : "") + "\n" +
      model.get("value_name") + " = " + fmt(v);
    const rr = root.getBoundingClientRect();
    Object.assign(tip.style, { display: "block", left: ev.clientX - rr.left + 14 + "px", top: ev.clientY - rr.top + 10 + "px" });
  });
  canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  canvas.addEventListener("click", (ev) => {
    const c = cell(ev);
    if (!c || !state.xv.length || !state.yv.length) return;
    model.send({ event: "click", x: state.xv[c[1]], y: state.yv[c[0]] });
  });
  model.on("change:revision", draw);
  draw();
  return () => model.off("change:revision", draw);
}
export default { render };
"""


def widget_module() -> str:
    """The widget's ES module, its colour table made from the stops of the sequential colour scale that the
    plotly figures use (``sinkviz.plots.style.SEQUENTIAL``), so the canvas and an export look the same."""
    import json

    from plotly.colors import get_colorscale

    from sinkviz.plots.style import SEQUENTIAL

    stops = [colour for _, colour in get_colorscale(SEQUENTIAL)]
    return _ESM.replace("__STOPS__", json.dumps(stops))


@lru_cache(maxsize=None)  # one class per process: anywidget classes are built lazily, once
def _widget_class():
    from sinkviz.widgets._clicks import click_widget_base
    import traitlets as t

    class CanvasHeatmap(click_widget_base()):
        _esm = widget_module()
        z = t.Bytes(b"").tag(sync=True)
        shape = t.List(t.Int(), default_value=[]).tag(sync=True)
        x_labels = t.List(t.Unicode(), default_value=[]).tag(sync=True)
        y_labels = t.List(t.Unicode(), default_value=[]).tag(sync=True)
        x_values = t.List(default_value=[]).tag(sync=True)  # what a click reports (e.g. head numbers)
        y_values = t.List(default_value=[]).tag(sync=True)
        zmin = t.Float(0.0).tag(sync=True)
        zmax = t.Float(1.0).tag(sync=True)
        title = t.Unicode("").tag(sync=True)
        note = t.Unicode("").tag(sync=True)
        x_title = t.Unicode("").tag(sync=True)
        y_title = t.Unicode("").tag(sync=True)
        hover_x = t.Unicode("x").tag(sync=True)
        hover_y = t.Unicode("y").tag(sync=True)  # "" leaves the row out of the tooltip (a one-row strip)
        hover_tag = t.Unicode("").tag(sync=True)  # e.g. "(0-indexed)", written after the column's index
        value_name = t.Unicode("value").tag(sync=True)
        colorbar_title = t.Unicode("").tag(sync=True)
        selected = t.List(t.Int(), default_value=[]).tag(sync=True)  # [row, col] outlined, or []
        width = t.Int(440).tag(sync=True)
        height = t.Int(440).tag(sync=True)
        x_axis_height = t.Int(70).tag(sync=True)
        y_axis_width = t.Int(80).tag(sync=True)
        tick_chars = t.Int(14).tag(sync=True)  # longest tick label before it is cut with "…"
        revision = t.Int(0).tag(sync=True)

    return CanvasHeatmap


def canvas_heatmap(**kwargs: Any):
    return _widget_class()(**kwargs)
