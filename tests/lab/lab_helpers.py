"""Shared constants for the lab tests: the tiny corpus and model, and a tiny run config."""

from __future__ import annotations

import copy

TINY_DATA = {"source": "pydoc", "tokenizer": "bpe-512"}
TINY_MODEL = {"hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64}


def tiny_config_dict(name: str = "tiny", **overrides) -> dict:
    """A run of a 2-layer, d=32 model for a handful of steps, with a cheap evaluation."""
    cfg = {
        "name": name,
        "seed": 3,
        "model": dict(TINY_MODEL),
        "data": dict(TINY_DATA),
        "train": {"steps": 6, "batch_size": 4, "seq_len": 32, "lr": 3e-3, "warmup": 2, "weight_decay": 0.1},
        "eval": {"n_sequences": 6, "length": 16, "valid_batches": 1, "steps": [0, 3, 6], "k_max": 4, "probe_split": "train"},
        "checkpoint": {"every": 3},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = copy.deepcopy(value)
    return cfg
