"""Gu et al. Fig. 9 on sinkviz's text domains, on a tiny random model: every domain measured, figure drawn."""
from __future__ import annotations

import pytest
from tiny_models import save_tiny

import sinkviz
from sinkviz.papers import gu2025
from sinkviz.plots.lines import sink_by_domain_figure


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return sinkviz.load(str(save_tiny("llama", tmp_path_factory.mktemp("llama"))), device="cpu", progress=False)


def test_fig9_domains_measures_every_domain(llama):
    res = gu2025.fig9_domains(llama, T=16, n=3, batch_size=3)
    assert list(res) == ["dictionary", "scripture prose", "verse", "reference documentation", "docstrings",
                         "source code", "encyclopedic"]
    for domain, row in res.items():
        assert row["n"] == 3 and set(row["sink"]) == set(gu2025.FIG9_EPS)
        assert all(0.0 <= v <= 100.0 for v in row["sink"].values())
        # a larger ε can only lower the share of heads above it
        assert row["sink"][0.2] >= row["sink"][0.3] >= row["sink"][0.4]
    fig = sink_by_domain_figure(res, title="t")
    assert len(fig.data) == 3 and "not the Pile" in fig.layout.xaxis.title.text
