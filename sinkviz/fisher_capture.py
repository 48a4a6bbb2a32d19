"""Deprecated alias of sinkviz.papers.fisher (one release)."""
import warnings

from sinkviz.papers.fisher import *  # noqa: F401,F403

warnings.warn("sinkviz.fisher_capture moved to sinkviz.papers.fisher; the old path goes in the next release",
              DeprecationWarning, stacklevel=2)
