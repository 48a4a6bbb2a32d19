"""The text domains shipped for Gu et al.'s Fig. 9 (sinkviz/data/domain_probes.jsonl) and Table 8's model list."""
from __future__ import annotations

import json
from importlib import resources

from sinkviz.papers import gu2025
from sinkviz.papers.probes import domain_texts, natural_texts
from sinkviz.papers.reported import PAPER, provenance, reported_numbers

DOMAINS = ["dictionary", "scripture prose", "verse", "reference documentation", "docstrings", "source code",
           "encyclopedic"]


def test_every_text_names_its_source_and_licence():
    text = resources.files("sinkviz").joinpath("data/domain_probes.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines()]
    assert len({r["id"] for r in rows}) == len(rows)
    for row in rows:
        assert set(row) == {"id", "domain", "text", "source", "licence"}
        assert row["source"] and row["licence"] and 80 <= len(row["text"].split())
    licences = {r["domain"]: r["licence"] for r in rows}
    assert licences["verse"].startswith("public domain") and licences["docstrings"].startswith("PSF License")
    assert licences["encyclopedic"].startswith("CC0")


def test_domain_texts_puts_the_dictionary_first_and_counts():
    domains = domain_texts()
    assert list(domains) == DOMAINS
    assert [r["text"] for r in domains["dictionary"]] == natural_texts()
    assert all(1 <= len(rows) <= 249 for rows in domains.values())
    assert len(domains["verse"]) == 100 and domains["verse"][0]["text"].startswith("Blessed is the man")


def test_table8_lists_the_32_models_of_the_paper():
    rows = reported_numbers("table8")
    assert len(rows) == 32 and len({r["value"] for r in rows}) == 32
    assert all(provenance(r) == PAPER for r in rows)
    families = {}
    for r in rows:
        families[r["model"]] = families.get(r["model"], 0) + 1
    assert families == {"GPT-2": 4, "LLaMA2": 4, "LLaMA3": 4, "Pythia": 10, "OPT": 6, "Mistral": 2, "Jamba": 2}
    table = gu2025.table8_models()
    assert [t["hf_id"] for t in table] == [r["value"] for r in rows]
    assert all(isinstance(t["offline"], bool) and t["how"] for t in table)
