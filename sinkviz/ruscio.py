"""Deprecated alias of sinkviz.papers.ruscio2025 (one release)."""
import warnings

from sinkviz.papers.ruscio2025 import *  # noqa: F401,F403

warnings.warn("sinkviz.ruscio moved to sinkviz.papers.ruscio2025; the old path goes in the next release",
              DeprecationWarning, stacklevel=2)
