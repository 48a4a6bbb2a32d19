"""Pure metric functions on arrays (numpy or torch). Nothing here loads a model or imports
another sinkviz layer: every function takes arrays and returns arrays or numbers."""
