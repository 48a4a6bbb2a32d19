"""Deprecated alias of sinkviz.papers.probes (one release)."""
import warnings

from sinkviz.papers.probes import *  # noqa: F401,F403
from sinkviz.papers.reported import reported_numbers  # noqa: F401

warnings.warn("sinkviz.probes moved to sinkviz.papers.probes; the old path goes in the next release",
              DeprecationWarning, stacklevel=2)
