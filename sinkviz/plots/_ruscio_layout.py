"""Layout helper shared by the Ruscio et al. figure modules (topology, spectra, frames, layer_profiles)."""
from __future__ import annotations

import plotly.graph_objects as go


def room_for_title(fig: go.Figure, title: str | None) -> go.Figure:
    """Grow the top margin so a two-line title (``style.titled``) clears the subplot titles."""
    top = 125 if title and "<br>" in title else 100 if title else 60
    fig.update_layout(margin=dict(t=top))
    return fig
