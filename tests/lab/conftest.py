"""Fixtures for the pretraining-lab tests: one tiny tokenised corpus per session (the Python docs that
ship with CPython, so no package or network is needed)."""

from __future__ import annotations

import pytest
from lab_helpers import TINY_DATA

from sinkviz.lab.data import prepare_corpus


@pytest.fixture(scope="session")
def lab_data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lab-data")
    prepare_corpus(TINY_DATA["source"], TINY_DATA["tokenizer"], folder, quiet=True)
    return folder


@pytest.fixture(scope="session")
def tiny_corpus(lab_data_dir):
    return prepare_corpus(TINY_DATA["source"], TINY_DATA["tokenizer"], lab_data_dir, quiet=True)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy 2-core machine OpenMP spinning makes
    each small matmul ~10x slower; restored afterwards for the rest of the suite."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
