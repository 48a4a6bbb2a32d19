"""Tables of measured vs reported numbers, as a plotly table figure and as Markdown text.

Used for Gu et al. 2025 Tables 1 and 7, the lab's tables and Ruscio et al. 2025's statistics; the figure exports
like any figure, the Markdown goes into notebooks. Every number says whose it is: ``provenance`` gives one label per
row (a "whose number" column is added), ``column_provenance`` one per column (written under its header). The labels
are those of :mod:`sinkviz.papers.reported`: "paper", "authors' results (Results_sample)", "sinkviz's reading of
the paper", or "sinkviz on MODEL".
"""
from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

from sinkviz.plots.style import apply_style

__all__ = ["PROVENANCE_HEADER", "comparison_table", "table_markdown", "format_cell", "with_provenance"]

#: Wider text wraps: a table column is sized to at most this many characters.
MAX_COLUMN_CHARS = 28

#: The header of the column that says whose number each row holds.
PROVENANCE_HEADER = "whose number"


def format_cell(value, digits: int = 2) -> str:
    """Numbers with ``digits`` decimals, None/NaN as an en dash, anything else as text."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return "–" if value != value else f"{value:.{digits}f}"
    return str(value)


def with_provenance(header: Sequence[str], rows: Sequence[Sequence[object]], *,
                    provenance: Sequence[str] | None = None,
                    column_provenance: Sequence[str] | None = None) -> tuple[list[str], list[list[object]]]:
    """``(header, rows)`` with the provenance written in: ``provenance`` (one label per row) becomes a last column
    :data:`PROVENANCE_HEADER`; ``column_provenance`` (one label per column, "" for a column of labels) goes under
    each header as "(label)". Raises if a label list has the wrong length or a label is empty where required."""
    header, rows = [str(h) for h in header], [list(r) for r in rows]
    if column_provenance is not None:
        if len(column_provenance) != len(header):
            raise ValueError(f"column_provenance needs one label per column ({len(header)}); got {len(column_provenance)}")
        header = [f"{h} ({p})" if p else h for h, p in zip(header, column_provenance)]
    if provenance is not None:
        if len(provenance) != len(rows):
            raise ValueError(f"provenance needs one label per row ({len(rows)}); got {len(provenance)}")
        if not all(str(p).strip() for p in provenance):
            raise ValueError("every row needs a provenance label (paper / authors' results / sinkviz on MODEL)")
        header.append(PROVENANCE_HEADER)
        rows = [r + [p] for r, p in zip(rows, provenance)]
    return header, rows


def comparison_table(header: Sequence[str], rows: Sequence[Sequence[object]], *, title: str | None = None,
                     digits: int = 2, highlight_cols: Sequence[int] = (), width: int | None = None,
                     provenance: Sequence[str] | None = None,
                     column_provenance: Sequence[str] | None = None) -> go.Figure:
    """A table figure; ``highlight_cols`` (indices) get a tinted background (e.g. the measured columns, so they
    stand apart from the paper's); ``provenance`` / ``column_provenance`` as :func:`with_provenance`."""
    header, rows = with_provenance(header, rows, provenance=provenance, column_provenance=column_provenance)
    if any(len(r) != len(header) for r in rows):
        raise ValueError(f"every row needs {len(header)} cells (one per header)")
    cols = list(zip(*rows)) if rows else [[] for _ in header]
    texts = [[format_cell(v, digits) for v in c] for c in cols]
    # size each column to its longest entry so cells stay on one line (8.5 px per character at 13 px); a long
    # text column (a source note) wraps instead of squeezing the number columns, and no header word is cut
    col_px = [min(max([len(str(h))] + [len(t) for t in col]), MAX_COLUMN_CHARS) * 8.5 + 28
              for h, col in zip(header, texts)]
    col_px = [max(px, max(len(word) for word in str(h).split() or [""]) * 9.5 + 28) for px, h in zip(col_px, header)]
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


def table_markdown(header: Sequence[str], rows: Sequence[Sequence[object]], *, digits: int = 2,
                   provenance: Sequence[str] | None = None, column_provenance: Sequence[str] | None = None) -> str:
    """The same table as Markdown (for ``IPython.display.Markdown``), provenance as :func:`with_provenance`."""
    header, rows = with_provenance(header, rows, provenance=provenance, column_provenance=column_provenance)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        lines.append("| " + " | ".join(format_cell(v, digits).replace("|", "\\|") for v in r) + " |")
    return "\n".join(lines)
