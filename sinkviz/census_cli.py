"""Deprecated alias of sinkviz.census.cli (one release)."""
import sys
import warnings

from sinkviz.census.cli import main, parse_layers, register, run

warnings.warn("sinkviz.census_cli is deprecated; use sinkviz.census.cli (or `python -m sinkviz.census`)",
              DeprecationWarning, stacklevel=2)

__all__ = ["main", "parse_layers", "register", "run"]

if __name__ == "__main__":
    sys.exit(main())
