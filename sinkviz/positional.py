"""Deprecated alias of sinkviz.papers.positional (one release)."""
import warnings

from sinkviz.papers.positional import *  # noqa: F401,F403

warnings.warn("sinkviz.positional moved to sinkviz.papers.positional; the old path goes in the next release",
              DeprecationWarning, stacklevel=2)
