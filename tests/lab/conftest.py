"""Fixtures for the pretraining-lab tests: one tiny tokenised corpus per session (the Python docs that
ship with CPython, so no package or network is needed) and a tiny run config."""

from __future__ import annotations

import copy

import pytest

from sinkviz.lab.data import prepare_corpus

TINY_DATA = {"source": "pydoc", "tokenizer": "bpe-512"}
TINY_MODEL = {"hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64}


@pytest.fixture(scope="session")
def lab_data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lab-data")
    prepare_corpus(TINY_DATA["source"], TINY_DATA["tokenizer"], folder, quiet=True)
    return folder


@pytest.fixture(scope="session")
def tiny_corpus(lab_data_dir):
    return prepare_corpus(TINY_DATA["source"], TINY_DATA["tokenizer"], lab_data_dir, quiet=True)


def tiny_config_dict(name: str = "tiny", **overrides) -> dict:
    """A run of a 2-layer, d=32 model for a handful of steps, with a cheap evaluation."""
    cfg = {
        "name": name,
        "seed": 3,
        "model": dict(TINY_MODEL),
        "data": dict(TINY_DATA),
        "train": {"steps": 6, "batch_size": 4, "seq_len": 32, "lr": 3e-3, "warmup": 2, "weight_decay": 0.1},
        "eval": {"n_sequences": 6, "length": 16, "valid_batches": 1, "steps": [0, 3, 6], "k_max": 4},
        "checkpoint": {"every": 3},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = copy.deepcopy(value)
    return cfg
