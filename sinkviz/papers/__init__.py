"""The reproduced papers: Gu et al. 2025 and Ruscio et al. 2025 recipes, their probes, edits and reported numbers."""
