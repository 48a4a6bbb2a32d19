"""Pure metric functions on arrays (numpy or torch). Nothing here loads a model or imports
another sinkviz layer: every function takes arrays and returns arrays or numbers."""

from sinkviz.metrics._validate import head_average, visibility_mask

__all__ = ["head_average", "visibility_mask"]
