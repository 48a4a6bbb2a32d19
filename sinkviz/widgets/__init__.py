"""The notebook explorer and its views: widgets over a cached Trace (sinkviz.explore)."""
