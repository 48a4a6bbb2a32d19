"""A small anywidget that draws one plotly figure with plotly.js, values of one heat-map sent as raw bytes.

Why not plotly's FigureWidget: after each update its front end reports to Python every property where plotly's
computed trace differs from the widget's copy. A heat-map sent as a typed array is decoded by plotly.js into
rows that share one buffer, and the report then carries the whole buffer once per row: 512 x 1 MiB = 537 MB
for a 512 x 512 map (measured, benchmarks/results/explorer.json). This widget sends nothing back but clicks.

State: ``spec`` (the figure as JSON, without the heat-map values), ``z`` (float32 little-endian bytes) with
``z_shape``, and ``revision`` (bumped last, one message per update). plotly.js comes from the plotly package
(its own ``plotly.min.js``), inlined in the widget's module: nothing is loaded from a CDN.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

_VIEW_JS = r"""
function toRows(view, shape) {
  if (!view || !shape || shape.length !== 2) return null;
  const bytes = view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
  const flat = new Float32Array(bytes);
  const rows = new Array(shape[0]);
  for (let i = 0; i < shape[0]; i++) rows[i] = flat.subarray(i * shape[1], (i + 1) * shape[1]);
  return rows;
}

function render({ model, el }) {
  const div = document.createElement("div");
  div.className = "sinkviz-plotly";
  el.appendChild(div);
  let bound = false;
  const draw = () => {
    const spec = model.get("spec") || {};
    const data = (spec.data || []).map((t) => Object.assign({}, t));
    const rows = toRows(model.get("z"), model.get("z_shape"));
    const target = model.get("z_trace");
    if (rows && data[target]) data[target].z = rows;
    Plotly.react(div, data, spec.layout || {}, spec.config || {}).then(() => {
      if (bound) return;
      bound = true;
      div.on("plotly_click", (ev) => {
        const p = ev && ev.points && ev.points[0];
        if (p) model.send({ event: "click", x: p.x, y: p.y, curve: p.curveNumber });
      });
    });
  };
  model.on("change:revision", draw);
  draw();
  return () => { model.off("change:revision", draw); Plotly.purge(div); };
}

export default { render };
"""


@lru_cache(maxsize=1)
def widget_module() -> str:
    """The widget's ES module: plotly.js from the plotly package (AMD/CommonJS hidden), then the view."""
    import plotly

    source = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text(encoding="utf-8")
    return (
        "const module = { exports: {} };\n"
        "(function (define, exports) {\n" + source + "\n}).call(globalThis, undefined, module.exports);\n"
        "const Plotly = module.exports;\n" + _VIEW_JS
    )


@lru_cache(maxsize=None)  # one class per process: anywidget classes are built lazily, once
def _widget_class():
    from sinkviz.widgets._clicks import click_widget_base
    import traitlets

    class PlotlyWidget(click_widget_base()):
        _esm = widget_module()
        spec = traitlets.Dict().tag(sync=True)
        z = traitlets.Bytes(b"").tag(sync=True)
        z_shape = traitlets.List(traitlets.Int(), default_value=[]).tag(sync=True)
        z_trace = traitlets.Int(0).tag(sync=True)
        revision = traitlets.Int(0).tag(sync=True)

    return PlotlyWidget


def plotly_widget(**kwargs: Any):
    return _widget_class()(**kwargs)


def decode_z(value: Any) -> np.ndarray | None:
    """A 2-D float32 array from a numpy array / nested list / plotly typed-array spec; None if not 2-D numeric."""
    if isinstance(value, dict) and "bdata" in value:
        import base64

        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = tuple(int(s) for s in str(value.get("shape", len(flat))).split(","))
        return flat.reshape(shape).astype(np.float32)
    if value is None:
        return None
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        return None
    return array if array.ndim == 2 else None


def figure_spec(fig, skip_z_of: int | None, config: dict[str, Any]) -> dict[str, Any]:
    """The figure as plain JSON, with trace `skip_z_of`'s z left out (it travels as bytes)."""
    import plotly.io as pio

    data = []
    for i, trace in enumerate(fig.data):
        props = trace.to_plotly_json()
        if i == skip_z_of:
            props.pop("z", None)
        data.append(props)
    layout = fig.layout.to_plotly_json()
    return json.loads(pio.to_json({"data": data, "layout": layout, "config": config}, validate=False))
