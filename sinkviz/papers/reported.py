"""The numbers the reproduced papers report, read from one JSONL format (``sinkviz/data/<paper>_reported.jsonl``).

One record per reported value. Every record has

* ``paper``: ``"gu2025"`` (Gu et al., ICLR 2025) or ``"ruscio2025"`` (Ruscio et al., NeurIPS 2025);
* ``item``: the table or figure it belongs to, e.g. ``"1-left"``, ``"7"``, ``"table2_weight_decay"``, ``"topology"``;
* the keys that place it inside the item: ``model`` and ``column``, and where the item needs them ``setting``
  (a table row: weight decay, bias variant, ...), ``t`` (Table 7's position), ``layer`` (0-indexed);
* ``value`` (a number; ``null`` where the paper prints "–" or the authors' file "N/A"; a short phrase where
  the paper only describes a figure; a list for a range), ``unit`` and ``source`` (where in the paper or the
  authors' files it stands);

and may have ``params`` (the model's size), ``n_layers``, ``sd`` (the reported standard deviation), ``caption``
(the lab's caption for its item), ``note``, ``proxy`` (a proxy score, marked * in Gu et al.'s Table 6) and
``provenance``.

**Whose number it is** (:func:`provenance`): every value is one of :data:`PAPER` (printed in the paper: all of Gu
et al.'s records), :data:`AUTHORS_RESULTS` (in the files Ruscio et al. committed, ``Results_sample/``: their
paper prints no table) or :data:`SINKVIZ_READING` (sinkviz's reading of a paper, e.g. which reference-frame type
a model has: the paper names the types but no released file assigns one to a model). A record says so in its
``provenance`` field; without one it takes its paper's default. A number sinkviz measures is labelled
:func:`measured` ("sinkviz on MODEL"). Tables put the label beside every number.
"""
from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = ["PAPERS", "PAPER", "AUTHORS_RESULTS", "SINKVIZ_READING", "PROVENANCES", "reported_numbers", "provenance",
           "measured"]

PAPERS = ("gu2025", "ruscio2025")

PAPER = "paper"
AUTHORS_RESULTS = "authors' results (Results_sample)"
SINKVIZ_READING = "sinkviz's reading of the paper"
PROVENANCES = (PAPER, AUTHORS_RESULTS, SINKVIZ_READING)
_DEFAULT_PROVENANCE = {"gu2025": PAPER, "ruscio2025": AUTHORS_RESULTS}


@lru_cache(maxsize=None)
def _records(paper: str) -> tuple[dict[str, Any], ...]:
    text = resources.files("sinkviz").joinpath(f"data/{paper}_reported.jsonl").read_text(encoding="utf-8")
    return tuple(json.loads(line) for line in text.splitlines() if line.strip())


def reported_numbers(item: str | None = None, *, paper: str | None = None) -> list[dict[str, Any]]:
    """The reported values of one ``item`` (all items if None) of one ``paper`` (both papers if None), in file
    order, one dict per value (a fresh copy: changing it changes nothing here).

    ``reported_numbers("1-left")`` gives Gu et al.'s Table 1 (left); ``reported_numbers(paper="ruscio2025")``
    every number from Ruscio et al.'s committed results."""
    if paper is not None and paper not in PAPERS:
        raise KeyError(f"no reported numbers for paper {paper!r}; known: {list(PAPERS)}")
    records = [r for p in (PAPERS if paper is None else (paper,)) for r in _records(p)]
    if item is not None:
        known = sorted({r["item"] for r in records})
        records = [r for r in records if r["item"] == item]
        if not records:
            raise KeyError(f"no reported numbers for item {item!r}; known: {known}")
    return copy.deepcopy(records)


def provenance(record: dict[str, Any]) -> str:
    """Whose number a reported record is: its ``provenance`` field, else its paper's default (Gu et al.: the
    paper; Ruscio et al.: the authors' committed results). One of :data:`PROVENANCES`."""
    label = record.get("provenance", _DEFAULT_PROVENANCE.get(record.get("paper", ""), ""))
    if label not in PROVENANCES:
        raise ValueError(f"record {record.get('item')}/{record.get('column')} has provenance {label!r}; "
                         f"expected one of {list(PROVENANCES)}")
    return label


def measured(model: str) -> str:
    """The provenance label of a number sinkviz measured on ``model``: "sinkviz on MODEL"."""
    return f"sinkviz on {model}"
