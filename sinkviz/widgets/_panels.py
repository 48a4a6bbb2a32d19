"""The explorer's analysis panels (QK, key-manifold PCA, persistence, frame verdict, bertviz), built when opened.

Each panel is computed only while it is open (an Accordion starts closed), and again when the selected
head changes while it is open. The figures come from `sinkviz.plots` and the numbers from `sinkviz.metrics`;
nothing is computed here that those modules do not provide. Their modules are imported when a panel first
opens (scikit-learn and ripser are slow to import). A panel that cannot be shown for a trace says why.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import ipywidgets as widgets
import numpy as np

from sinkviz.plots.style import EXPLORER_BASE, apply_style, index_label

QK_MAX_TOKENS = 1024
#: Width of an average character of the screen font (Liberation Sans/Arial: digits 0.556 em, lower case less), in
#: font sizes: what wrapping a title to a figure's width counts with.
CHAR_EM = 0.55
DETAIL_FONT_PX = 12  # the smaller lines of a panel's title (its numbers, a reason)
TOPOLOGY_MAX_POINTS = 96


class PanelUnavailable(Exception):
    """The panel cannot be shown for this trace (missing capture, too long...)."""


@dataclass
class Panel:
    title: str
    build: Callable[[Any], Any]  # explorer -> go.Figure | widgets.Widget | str (HTML)
    per_head: bool = True  # rebuilt when the head changes (else only when the layer changes)


def _need_qk(ex) -> None:
    if not ex.trace.queries:
        raise PanelUnavailable("this trace holds no queries/keys (traced without 'qk')")


def _qk(ex) -> Any:
    """Gu et al. 2025 sec. 3.1 / Fig. 2 (bottom): cos(q_t, k_j) and |q_t||k_j| of the selected head."""
    from sinkviz.metrics import qk as metrics
    from sinkviz.plots import qk as plots

    _need_qk(ex)
    tr, layer, head = ex.trace, ex.layer, ex.head
    n = tr.n_tokens()
    if n > QK_MAX_TOKENS:
        raise PanelUnavailable(f"{n} tokens: the QK panel draws three n x n maps and is limited to {QK_MAX_TOKENS} tokens")
    q = tr.query(layer, head)
    k = tr.key(layer, tr.info.kv_head_of[head])
    decomp = metrics.qk_decomposition(q, k, causal=tr.info.causal, scaling=tr.info.scaling[layer])
    first = metrics.qk_first_vs_rest(decomp)
    fig = plots.qk_heatmaps(decomp, panels=("cos", "norm_product"), base=EXPLORER_BASE)
    # The headline on a line of its own and the numbers under it, smaller, each wrapped to the figure's width (on
    # one line, about 105 characters, it ran off the right edge of the 700 px figure at every length).
    width_px = _title_width_px(fig)
    headline = f"{index_label(('layer', 'head'), (layer, head), base=EXPLORER_BASE)}: first key against the rest"
    numbers = (f"cos toward key 0 {first['cos'][0]:.2f} vs {first['cos'][1]:.2f} for the rest; norm product "
               f"{first['norm_product'][0]:.1f} vs {first['norm_product'][1]:.1f} for the rest")
    title = (f"{_wrap(headline, _chars_that_fit(width_px, _title_font_px(fig)))}<br><span style='font-size:"
             f"{DETAIL_FONT_PX}px'>{_wrap(numbers, _chars_that_fit(width_px, DETAIL_FONT_PX))}</span>")
    extra_lines = title.count("<br>")
    return apply_style(fig, title=title, width=fig.layout.width, height=(fig.layout.height or 360) + 20 * extra_lines)


def _title_font_px(fig: Any) -> float:
    font = fig.layout.title.font.size or fig.layout.template.layout.title.font.size
    return float(font or 17)  # plotly's own title size


def _title_width_px(fig: Any) -> float:
    """Width a left-aligned title of `fig` has: the figure's width less its left and right margins."""
    margin, default = fig.layout.margin, fig.layout.template.layout.margin
    left = margin.l if margin.l is not None else (default.l if default.l is not None else 80)
    right = margin.r if margin.r is not None else (default.r if default.r is not None else 80)
    return float((fig.layout.width or 700) - left - right)


def _chars_that_fit(width_px: float, font_px: float) -> int:
    """Characters of text at `font_px` in `width_px`, at CHAR_EM of the font size a character."""
    return max(20, int(width_px / (CHAR_EM * font_px)))


def _manifold(ex) -> Any:
    """Gu et al. 2025: PCA of one KV head's keys, the first token's key marked."""
    from sinkviz.metrics import manifold as metrics
    from sinkviz.plots import manifold as plots

    _need_qk(ex)
    tr, layer = ex.trace, ex.layer
    kv = tr.info.kv_head_of[ex.head]
    keys = tr.key(layer, kv)[None]  # (1, n, d)
    pca = metrics.key_pca(keys, lengths=[keys.shape[1]])
    fig = plots.key_pca_figure([(f"layer {layer}, KV head {kv}<br>(query head {ex.head}, 0-indexed)", pca)], cols=1,
                               tokens=tr.tokens[:1], panel_size=420, base=0)
    # The legend goes under the plot: in the title band the plot's mode bar covered it.
    fig.update_layout(legend=dict(orientation="h", xref="paper", yref="paper", x=0, xanchor="left", y=-0.16,
                                  yanchor="top"), margin=dict(b=110))
    return fig


def _topology(ex) -> Any:
    """Ruscio et al.: persistence of the selected head's map, as published and corrected, the corrected one beside
    the persistence of uniform attention under the same mask and length (its null: a diagram alone is not a
    finding)."""
    from sinkviz.metrics import topology as metrics
    from sinkviz.plots import topology as plots

    tr = ex.trace
    a = tr.attention(ex.layer, ex.head)
    max_points = min(a.shape[0], TOPOLOGY_MAX_POINTS)
    published = metrics.persistence_published(a)
    corrected = metrics.persistence_corrected(a, max_points=max_points)
    null = _uniform_persistence(a.shape[0], tr.info.causal, tr.info.sliding_window[ex.layer], max_points)
    note = "" if a.shape[0] <= TOPOLOGY_MAX_POINTS else f" (corrected: {TOPOLOGY_MAX_POINTS} of {a.shape[0]} tokens)"
    where = index_label(("layer", "head"), (ex.layer, ex.head), base=EXPLORER_BASE)
    fig = plots.persistence_diagram_figure(published, corrected, null=null,
                                           title=f"{where}: persistence of one head{note}")
    return _one_legend_entry_per_name(fig)


@lru_cache(maxsize=16)
def _uniform_persistence(n: int, causal: bool, sliding_window: int | None, max_points: int) -> Any:
    """Corrected persistence of uniform attention over ``n`` tokens under the mask (the same for every head of a
    layer, so computed once per length and mask)."""
    from sinkviz.metrics import topology as metrics
    from sinkviz.metrics.toy_attention import masked_uniform_attention

    uniform = masked_uniform_attention(n, causal=causal, sliding_window=sliding_window)
    return metrics.persistence_corrected(uniform, max_points=max_points)


def _one_legend_entry_per_name(fig: Any) -> Any:
    """Each homology dimension (H0, H1) in the legend once, from the first panel that draws points of it: the
    published diagram often has no H1, and its empty trace was the only one allowed into the legend."""
    named: set[str] = set()
    for trace in fig.data:
        if trace.name in ("H0", "H1", "H2"):
            trace.showlegend = trace.x is not None and len(trace.x) > 0 and trace.name not in named
            if trace.showlegend:
                named.add(trace.name)
    return fig


def _frames(ex) -> Any:
    """Ruscio et al.: where each layer's sinks sit (start / end / interior) and the frame verdict."""
    from sinkviz.metrics import frames as metrics
    from sinkviz.plots import frames as plots

    tr = ex.trace
    n = tr.n_tokens()
    cached = getattr(ex, "_frame_cache", None)
    if cached is None or cached[0] is not tr:
        per_layer = [metrics.head_sinks(tr.attentions[l][0, :, :n, :n].numpy(), causal=tr.info.causal, layers=[l])
                     for l in tr.layers]
        merged = metrics.HeadSinks(
            top_position=np.concatenate([h.top_position for h in per_layer]),
            top_share=np.concatenate([h.top_share for h in per_layer]),
            excess=np.concatenate([h.excess for h in per_layer]), n=n, causal=tr.info.causal,
            layers=list(tr.layers), tokens=list(tr.tokens[0]), special_positions=tuple(tr.special_positions[0]))
        ex._frame_cache = (tr, metrics.classify_frames([merged]))
    verdict = ex._frame_cache[1]
    row = next((lf for lf in verdict.layers if lf.layer == ex.layer), None)
    title = f"frame verdict (one text): {verdict.label}"
    if row is not None:  # the reason on a line of its own: on one line the headline ran off the figure
        title += f"<br>layer {ex.layer}: {row.label}<br><span style='font-size:11px'>{_wrap(row.reason, 110)}</span>"
    fig = plots.frame_panel_figure(verdict, title=title)
    fig.update_layout(margin=dict(t=max(fig.layout.margin.t or 0, 150)))
    return fig


def _wrap(text: str, width: int) -> str:
    """`text` broken into lines of at most `width` characters (plotly titles do not wrap themselves)."""
    import textwrap

    return "<br>".join(textwrap.wrap(text, width)) or text


def _bertviz(ex) -> Any:
    from sinkviz.widgets import bertviz_view

    n = ex.trace.n_tokens(0)
    if n > bertviz_view.MAX_TOKENS:
        raise PanelUnavailable(f"bertviz's head view draws every token as a line; {n} tokens is more than "
                               f"{bertviz_view.MAX_TOKENS}, so it is not shown. Use the map above.")
    return bertviz_view.head_view(ex.trace, layer=ex.layer, heads=[ex.head], include_layers=[ex.layer])


PANELS = [
    Panel("QK: cos and norm product (selected head)", _qk),
    Panel("Key manifold: PCA of keys (selected head's KV head)", _manifold),
    Panel("Persistence diagram (selected head)", _topology),
    Panel("Frame verdict (selected layer)", _frames, per_head=False),
    Panel("bertviz head view (selected layer)", _bertviz, per_head=False),
]


class PanelArea:
    def __init__(self, explorer, panels: list[Panel] | None = None):
        self.explorer = explorer
        self.panels = panels or PANELS
        self.outputs = [widgets.Output() for _ in self.panels]
        self.widget = widgets.Accordion(children=self.outputs, titles=tuple(p.title for p in self.panels),
                                        selected_index=None)
        self._shown: dict[int, tuple] = {}
        self.widget.observe(lambda _: self.refresh(), names="selected_index")

    def refresh(self) -> None:
        index = self.widget.selected_index
        ex = self.explorer
        if index is None or ex.trace is None:
            return
        panel = self.panels[index]
        key = (id(ex.trace), ex.layer, ex.head if panel.per_head else None)
        if self._shown.get(index) == key:
            return
        self._shown[index] = key
        self.show(index, panel)

    def show(self, index: int, panel: Panel) -> None:
        from IPython.display import HTML, display

        out = self.outputs[index]
        try:
            content = panel.build(self.explorer)
        except PanelUnavailable as exc:
            content = f"<i>{html.escape(str(exc))}</i>"
        except Exception as exc:  # a panel must never break the explorer
            content = f'<span style="color:#8b0000">{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</span>'
        with out:
            out.clear_output(wait=True)
            if isinstance(content, str):
                display(HTML(content))
            elif hasattr(content, "to_plotly_json"):
                import json

                spec = json.loads(content.to_json())
                spec["config"] = {"displaylogo": False, "displayModeBar": "hover"}
                display({"application/vnd.plotly.v1+json": spec}, raw=True)
            else:
                display(content)
