"""Table figures keep every row when the paper style shrinks them to a column (plots.style._fit_tables)."""

from sinkviz.plots.style import CSS_DPI, PAPER_FONT_PT, POINTS_PER_INCH, paper_style
from sinkviz.plots.tables import comparison_table


def _table(n_rows: int, note: str = "short"):
    rows = [[f"model {i}", 1.0 * i, 2.0 * i, note] for i in range(n_rows)]
    return comparison_table(["model", "natural", "repeat", "source"], rows, title="Table")


def test_paper_table_height_grows_with_rows_and_wrapped_cells():
    px = PAPER_FONT_PT * CSS_DPI / POINTS_PER_INCH
    short = paper_style(_table(3), width="double")
    tall = paper_style(_table(12), width="double")
    wrapped = paper_style(_table(12, note="a long source note " * 6), width="double")
    assert tall.layout.height - short.layout.height >= 9 * 1.35 * px  # at least one line per added row
    assert wrapped.layout.height > tall.layout.height + 12 * 1.35 * px  # wrapped notes take more lines


def test_long_text_column_does_not_squeeze_number_columns():
    fig = _table(2, note="x" * 200)
    widths = list(fig.data[0].columnwidth)
    assert widths[3] <= 3 * widths[1]  # the note column is capped and wraps
    assert min(widths[1:3]) >= len("natural") * 9.5  # a header word is never cut


def test_paper_legend_below_the_plot_clears_the_axis_titles():
    import plotly.graph_objects as go

    from sinkviz.plots.style import apply_style

    fig = go.Figure([go.Scatter(x=[0, 1], y=[0, i], name=f"a long series name {i}") for i in range(6)])
    fig.update_xaxes(title_text="depth")
    apply_style(fig, title="t", width=900, height=400)
    fig.update_layout(legend=dict(orientation="h", y=-0.25, x=0.0))
    paper = paper_style(fig, width="single")
    px = PAPER_FONT_PT * CSS_DPI / POINTS_PER_INCH
    assert paper.layout.legend.yref == "container" and paper.layout.legend.y == 0
    assert paper.layout.margin.b >= 4 * px + 2 * 1.5 * px  # ticks + axis title + at least two legend rows
    assert paper.layout.legend.font.size == px * 0.95 and paper.layout.xaxis.title.font.size == px
