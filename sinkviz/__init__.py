"""sinkviz: a Jupyter-first explorer of attention sinks."""
__version__ = "0.1.0"
