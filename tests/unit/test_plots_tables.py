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
    assert paper.layout.legend.yref == "container" and paper.layout.legend.y == 0  # no caption beneath it
    assert paper.layout.margin.b >= 4 * px + 2 * 1.5 * px  # ticks + axis title + at least two legend rows
    assert paper.layout.legend.font.size == px * 0.95 and paper.layout.xaxis.title.font.size == px


def test_paper_moves_a_legend_beside_the_title_beneath_the_plot():
    """On screen the key-PCA and RoPE-plane legends sit beside the title (legend_in_title_band); at a paper width
    the title fills that band, so the legend goes under the plot, below the axis title."""
    import plotly.graph_objects as go

    from sinkviz.plots.style import apply_style, legend_in_title_band

    fig = go.Figure([go.Scatter(x=[0, 1], y=[0, 1], name="keys t≠1 (darker = later)"),
                     go.Scatter(x=[0], y=[0], name="k₁ (first token)")])
    fig.update_xaxes(title_text="PC1")
    apply_style(fig, title="Key PCA per KV head (k₁ starred): sinkviz's view of the 'different manifold' claim<br>"
                "smollm2-135m<br>post-rotary keys of 20 texts", width=1100, height=900)
    legend_in_title_band(fig)
    for width in ("single", "double"):
        paper = paper_style(fig, width=width)
        px = PAPER_FONT_PT * CSS_DPI / POINTS_PER_INCH
        legend = paper.layout.legend
        assert legend.yref == "container" and legend.y == 0 and legend.yanchor == "bottom"  # at the bottom edge
        assert legend.xref == "paper" and legend.x == 0.0
        assert paper.layout.margin.b >= 4 * px + 1.5 * px  # tick labels, the axis title and a legend row
    assert fig.layout.legend.yref == "container" and fig.layout.legend.y > 0.9  # the screen figure is unchanged


def test_paper_caption_goes_beneath_a_grouped_legend_that_keeps_every_row():
    """A screen figure with a caption under its legend (add_caption): at the paper width the legend wraps into more
    rows (grouped entries stacked), so the caption moves beneath it, wrapped to the width; plotly's default cap of
    half the figure's height would clip the legend, so its height is given; the figure grows rather than leaving
    the plot less than half the height its aspect ratio gave."""
    import plotly.graph_objects as go

    from sinkviz.plots.style import NOTE_NAME, _legend_rows_px, add_caption, apply_style

    fig = go.Figure()
    for i in range(14):  # a run's Sink_1 and Sink_* share a legend group: stacked, as in the lab's contrast figure
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, i], name=f"contrast number {i}: Sink₁ (paper 1.{i})", legendgroup=str(i)))
        if i % 3 == 0:
            fig.add_trace(go.Scatter(x=[0, 1], y=[i, 0], name=f"contrast number {i}: Sink_*", legendgroup=str(i)))
    fig.update_xaxes(title_text="tokens seen")
    apply_style(fig, title="t", width=1100, height=700)
    fig = add_caption(fig, "a caption long enough to need wrapping at a column's width, " * 4, y=-1.0)
    fig.update_layout(legend=dict(orientation="h", y=-0.2, x=0.0), margin=dict(b=300))
    paper = paper_style(fig, width="double")
    px = PAPER_FONT_PT * CSS_DPI / POINTS_PER_INCH
    layout = paper.layout
    legend_px = _legend_rows_px(paper, layout.legend.font.size)
    assert legend_px > 5 * (16 + 3)  # several rows of 19 px entries at least
    assert layout.legend.maxheight >= legend_px  # not clipped at half the height
    (caption,) = [a for a in layout.annotations if a.name == NOTE_NAME]
    plot_px = layout.height - layout.margin.t - layout.margin.b
    caption_top_above_bottom = layout.margin.b + caption.y * plot_px  # px above the figure's bottom edge
    legend_bottom_above_bottom = layout.legend.y * layout.height
    assert caption.yanchor == "top" and 0 < caption_top_above_bottom <= legend_bottom_above_bottom
    lines = caption.text.split("<br>")
    assert len(lines) >= 2 and max(len(line) for line in lines) * 0.55 * caption.font.size <= layout.width
    given_px = layout.width * 700 / 1100  # the height the figure's own aspect ratio gives at this width
    assert layout.height > given_px and plot_px >= 0.5 * given_px - 1 and layout.margin.b >= 4 * px + legend_px


def test_paper_caption_without_a_legend_beneath_stays_inside_the_figure():
    """A caption under the plot of a figure whose legend sits at the side (the lab's learning-rate figure): at the
    paper width it goes beneath the tick labels and axis title, and its last line ends inside the figure (placed as
    on screen, 42 px under the plot in a margin shrunk with the figure, its last line fell off the bottom edge)."""
    import plotly.graph_objects as go

    from sinkviz.plots.style import NOTE_NAME, add_caption, apply_style

    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], name="run"))
    fig.update_xaxes(title_text="training step")
    apply_style(fig, title="t", width=900, height=500)
    fig.update_layout(legend=dict(orientation="v", x=1.08, xanchor="left", y=1.0))
    fig = add_caption(fig, "paper (60M, Sink₁ at 20k steps): lr 0.0008: 32.23%, lr 0.0004: 18.18%, lr 0.0001: 2.9%")
    paper = paper_style(fig, width="double")
    px = PAPER_FONT_PT * CSS_DPI / POINTS_PER_INCH
    layout = paper.layout
    (caption,) = [a for a in layout.annotations if a.name == NOTE_NAME]
    plot_px = layout.height - layout.margin.t - layout.margin.b
    below_plot_px = -caption.y * plot_px  # the caption's top, px under the plot
    caption_px = (caption.text.count("<br>") + 1) * 1.35 * caption.font.size
    assert caption.yanchor == "top" and caption.yshift == 0
    assert below_plot_px >= 4 * px  # under the tick labels and the axis title
    assert below_plot_px + caption_px <= layout.margin.b  # its last line inside the figure


def test_paper_titles_wrap_at_a_column_and_the_subtitle_takes_the_paper_size():
    """At a column's width a screen title ran past the figure's right edge and the x-axis title past both edges;
    the paper style wraps them, keeps the subtitle's span on each of its lines, and sets it at the paper size."""
    import re

    import plotly.graph_objects as go

    from sinkviz.plots.style import apply_style, titled

    fig = go.Figure(go.Bar(x=["1", "2"], y=[1, 2]))
    fig.update_xaxes(title_text="rotation plane i (1-indexed); plane 1 rotates fastest, θᵢ = rope_theta^(−2(i−1)/d)")
    apply_style(fig, title=titled("RoPE planes: which rotation planes carry the logit toward k₁",
                                  model="smollm2-135m", setting="block 19, 20 texts, a setting long enough to wrap"),
                width=720, height=400)
    paper = paper_style(fig, width="single")
    px = PAPER_FONT_PT * CSS_DPI / POINTS_PER_INCH
    plot_px = paper.layout.width - paper.layout.margin.l - paper.layout.margin.r
    title_lines = paper.layout.title.text.split("<br>")
    assert len(title_lines) >= 4  # the title and the subtitle each took a second line
    visible = [re.sub(r"<[^>]+>", "", line) for line in title_lines]
    assert max(len(line) for line in visible) * 0.58 * paper.layout.title.font.size <= plot_px
    assert " ".join(visible[:2]) == "RoPE planes: which rotation planes carry the logit toward k₁"
    subtitle = title_lines[2:]
    assert all(line.startswith(f"<span style='font-size:{px:.1f}px") and line.endswith("</span>") for line in subtitle)
    axis_lines = paper.layout.xaxis.title.text.split("<br>")
    assert len(axis_lines) >= 2 and max(len(line) for line in axis_lines) * 0.58 * px <= plot_px


def test_paper_stacked_panels_leave_room_for_their_subplot_titles():
    """Gaps between stacked panels are fractions of the plot height; at a column's width they shrank below a line,
    so each subplot title ran into the panel above. The figure grows until every gap holds 2.6 lines."""
    import numpy as np

    from sinkviz.plots.qk import rope_planes_figure

    rng = np.random.default_rng(0)
    fig = rope_planes_figure({f"head {h}": (rng.random(33), rng.random(33)) for h in (0, 2, 8)})
    paper = paper_style(fig, width="single")
    px = PAPER_FONT_PT * CSS_DPI / POINTS_PER_INCH
    layout = paper.layout
    plot_px = layout.height - layout.margin.t - layout.margin.b
    domains = sorted(tuple(layout[k].domain) for k in layout if k.startswith("yaxis"))
    gap = min(upper[0] - lower[1] for lower, upper in zip(domains, domains[1:]))
    assert gap * plot_px >= 2.6 * px - 0.5
    assert layout.legend.yref == "container" and layout.legend.y == 0  # the title-band legend went beneath
    fixed = paper_style(fig, width="single", height=2.0)  # a height the user asked for is kept
    assert fixed.layout.height == round(2.0 * CSS_DPI)


def test_legend_rows_follow_plotlys_wrapping_of_ungrouped_entries():
    """plotly.js puts ungrouped entries that do not fit one row each in the widest entry's width: one long name
    gives every entry its own row (the frames-over-training legend lost its last entries off the figure)."""
    import plotly.graph_objects as go

    from sinkviz.plots.style import _legend_rows_px

    px = 10.0
    item_px = max(1.3 * px, 16.0) + 3.0
    fig = go.Figure(layout=dict(width=500, margin=dict(l=50, r=50)))  # a 400 px plot area
    for name in ("a", "b", "c"):
        fig.add_trace(go.Scatter(x=[0], y=[0], name=name))
    assert _legend_rows_px(fig, px) == item_px  # short names: one row
    fig.add_trace(go.Scatter(x=[0], y=[0], name="x" * 50))  # 50 chars ≈ 320 px: wider than half the plot
    assert _legend_rows_px(fig, px) == 4 * item_px  # no two entries fit side by side
    fig.data[-1].name = "x" * 25  # ≈ 183 px: two of that width a row
    for name in "efghi":
        fig.add_trace(go.Scatter(x=[0], y=[0], name=name))  # nine entries, too wide together for one row
    assert _legend_rows_px(fig, px) == 5 * item_px


def test_paper_subplot_titles_wrap_over_their_own_panel():
    """Key-PCA subplot titles ran into their neighbours at the paper width: each wraps at its panel's width, and
    the gap under the panel above grows to hold its lines."""
    import numpy as np
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from sinkviz.plots.style import apply_style

    titles = [f"block {b}, KV head {h} (1-indexed) · off 0.79 vs 0.68 (r=6)" for b in (2, 16) for h in (1, 2, 3)]
    fig = make_subplots(rows=2, cols=3, subplot_titles=titles)
    for i in range(6):
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1]), row=i // 3 + 1, col=i % 3 + 1)
    apply_style(fig, title="Key PCA", width=1000, height=700)
    paper = paper_style(fig, width="double")
    px = PAPER_FONT_PT * CSS_DPI / POINTS_PER_INCH
    plot_px = paper.layout.width - paper.layout.margin.l - paper.layout.margin.r
    panel_px = (paper.layout.xaxis.domain[1] - paper.layout.xaxis.domain[0]) * plot_px
    wrapped = [a.text for a in paper.layout.annotations if "KV head" in a.text]
    assert len(wrapped) == 6 and all("<br>" in t for t in wrapped)
    longest = max(len(line) for t in wrapped for line in t.split("<br>"))
    assert longest * 0.58 * px * 0.9 <= panel_px  # annotation text is 0.9 of the paper size
    lines = max(t.count("<br>") + 1 for t in wrapped)
    height_px = paper.layout.height - paper.layout.margin.t - paper.layout.margin.b
    gap = paper.layout.yaxis.domain[0] - paper.layout.yaxis4.domain[1]  # row 1 above row 2
    assert gap * height_px >= (1.3 + 1.3 * lines) * px - 0.5
    assert np.isclose(fig.layout.annotations[0].text.count("<br>"), 0)  # the screen figure is untouched


def test_paper_title_starts_at_the_figures_margin_not_the_plots():
    """Long y tick labels push the plot right once plotly fits its margins; a title anchored to the plot then ran
    past the figure's edge however it was wrapped. The paper title starts at the figure's left margin and is
    wrapped to the width from there."""
    import plotly.graph_objects as go

    from sinkviz.plots.style import apply_style, titled

    fig = go.Figure(go.Heatmap(z=[[0, 1], [1, 0]], y=["published: avg dim-0 persistence " * 2, "b"]))
    apply_style(fig, title=titled("Layer comparison", paper="authors' results: " + "ten of thirty tests " * 8),
                width=1000, height=500)
    paper = paper_style(fig, width="double")
    title = paper.layout.title
    assert title.xref == "container" and title.xanchor == "left"
    assert title.x == paper.layout.margin.l / paper.layout.width


def test_wrapped_titles_keep_an_equation_on_one_line():
    """"ε = 0.3, T = 64" wrapped at a width that falls inside "T = 64" moves the whole equation to the next line
    (the lab's contrast figure once read "…, T" over "= 64")."""
    from sinkviz.plots.style import wrapped

    title = "Sink₁ (solid) and Sink_* (dashed), %, ε = 0.3, T = 64"
    for chars in range(20, len(title)):
        lines = wrapped(title, chars).split("<br>")
        assert " ".join(lines) == title, chars
        assert not any(line.startswith("=") or line.endswith((" T", "ε")) for line in lines), (chars, lines)
    assert wrapped(title, 50).split("<br>") == ["Sink₁ (solid) and Sink_* (dashed), %, ε = 0.3,", "T = 64"]
