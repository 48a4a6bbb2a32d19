"""Deprecated alias of sinkviz.papers.gu2025 (one release)."""
import warnings

from sinkviz.papers.gu2025 import *  # noqa: F401,F403

warnings.warn("sinkviz.gu2025 moved to sinkviz.papers.gu2025; the old path goes in the next release",
              DeprecationWarning, stacklevel=2)
