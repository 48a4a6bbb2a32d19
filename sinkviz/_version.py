"""The package version, in one place (the facade, the census and the figure metadata read it here)."""

__version__ = "0.2.0"
