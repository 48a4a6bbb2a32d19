"""Tables of measured vs reported numbers, as a plotly table figure and as Markdown text.

Used for Gu et al. 2025 Tables 1 and 7 and the lab's tables; the figure exports like any figure, the Markdown
goes into notebooks.
"""
from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

from sinkviz.plots.style import apply_style

__all__ = ["comparison_table", "table_markdown", "format_cell"]


def format_cell(value, digits: int = 2) -> str:
    """Numbers with ``digits`` decimals, None/NaN as an en dash, anything else as text."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return "–" if value != value else f"{value:.{digits}f}"
    return str(value)


def comparison_table(header: Sequence[str], rows: Sequence[Sequence[object]], *, title: str | None = None,
                     digits: int = 2, highlight_cols: Sequence[int] = (), width: int | None = None) -> go.Figure:
    """A table figure; ``highlight_cols`` (indices) get a tinted background (e.g. the measured columns, so they
    stand apart from the paper's)."""
    if any(len(r) != len(header) for r in rows):
        raise ValueError(f"every row needs {len(header)} cells (one per header)")
    cols = list(zip(*rows)) if rows else [[] for _ in header]
    texts = [[format_cell(v, digits) for v in c] for c in cols]
    # size each column to its longest entry so cells stay on one line (8.5 px per character at 13 px)
    col_px = [max([len(str(h))] + [len(t) for t in col]) * 8.5 + 28 for h, col in zip(header, texts)]
    fill = [["#EEF4FA"] * len(rows) if i in highlight_cols else ["white"] * len(rows) for i in range(len(header))]
    fig = go.Figure(go.Table(
        columnwidth=col_px,
        header=dict(values=[f"<b>{h}</b>" for h in header], fill_color="#DDDDDD", line_color="black",
                    align="center", height=30),
        cells=dict(values=texts, fill_color=fill, line_color="#999",
                   align=["left"] + ["center"] * (len(header) - 1), height=28)))
    fig.update_layout(margin=dict(l=10, r=10, t=70, b=10))
    return apply_style(fig, title=title, height=30 + 28 * len(rows) + 150,
                       width=width or int(max(sum(col_px) + 40, 420)))


def table_markdown(header: Sequence[str], rows: Sequence[Sequence[object]], *, digits: int = 2) -> str:
    """The same table as Markdown (for ``IPython.display.Markdown``)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        lines.append("| " + " | ".join(format_cell(v, digits).replace("|", "\\|") for v in r) + " |")
    return "\n".join(lines)
