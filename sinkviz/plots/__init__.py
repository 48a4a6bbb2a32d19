"""Figure factories: metric results in, styled plotly figures out (one style, in plots.style)."""
