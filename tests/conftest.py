"""Test-wide settings: offline, seeded, a private weight cache."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The hub is unreachable on every machine we have: never let a test wait on it.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Shared test helpers: tiny model builders (integration/) and notebook helpers (notebooks/).
for folder in ("integration", "notebooks"):
    sys.path.insert(0, str(Path(__file__).parent / folder))


@pytest.fixture(autouse=True)
def _seed():
    import numpy as np
    import torch

    torch.manual_seed(42)
    np.random.seed(42)
    yield
