"""bertviz views of a sinkviz Trace: same attention, and nothing fetched from the network."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import sinkviz
from sinkviz.errors import InputError
from sinkviz.widgets import bertviz_view as bv
from sinkviz.widgets.explorer import explore
from tiny_models import save_tiny, text


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    folder = save_tiny("llama", tmp_path_factory.mktemp("bv") / "llama")
    return sinkviz.trace(sinkviz.load(str(folder), device="cpu"), text(8), capture=("attn",))


def params_of(html: str) -> dict:
    """The PYTHON_PARAMS object bertviz embedded in the script."""
    match = re.search(r"const params = (\{.*?\}); // HACK", html, re.S)
    assert match, "bertviz params not found"
    return json.loads(match.group(1))


def test_head_view_has_no_external_urls_and_inlines_d3_and_jquery(trace):
    view = bv.head_view(trace)
    html = view.to_html()
    assert bv.external_urls(html) == []
    assert "cdnjs" not in html and "require.config" not in html and "requirejs(" not in html
    assert "__sinkviz_vendor" in html and "d3js.org v5.7.0" in html and "jQuery v3.7.1" in html
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.I)


def test_head_view_carries_the_traces_attention(trace):
    view = bv.head_view(trace, layer=1, heads=[2])
    params = params_of(view.fragment)
    attn = np.asarray(params["attention"][0]["attn"])  # (layers, heads, n, n)
    n = trace.n_tokens()
    assert attn.shape == (len(trace.layers), len(trace.heads), n, n)
    np.testing.assert_allclose(attn[1], trace.attentions[1][0].numpy()[:, :n, :n], atol=0.5 * 10 ** -bv.DECIMALS)
    assert params["attention"][0]["left_text"] == trace.tokens[0]
    assert params["layer"] == 1 and params["heads"] == [2]


def test_model_view_and_layer_selection(trace):
    view = bv.model_view(trace, include_layers=[2], include_heads=[0, 3])
    params = params_of(view.fragment)
    assert np.asarray(params["attention"][0]["attn"]).shape[:2] == (1, 2)
    assert bv.external_urls(view.to_html()) == []


def test_inline_dependencies_rejects_unexpected_html():
    with pytest.raises(RuntimeError, match="not supported"):
        bv.inline_dependencies("<div>no bertviz here</div>")


def test_external_url_detector_finds_cdn_scripts():
    assert bv.external_urls('<script src="https://cdnjs.cloudflare.com/x.js"></script>') == \
        ["https://cdnjs.cloudflare.com/x.js"]
    assert bv.external_urls("require.config({paths: {d3: '//cdn.example/d3'}})") == ["//cdn.example/d3"]


def test_long_texts_and_missing_layers_are_refused(trace, monkeypatch):
    monkeypatch.setattr(bv, "MAX_TOKENS", 3)
    with pytest.raises(InputError, match="unreadable"):
        bv.head_view(trace)
    monkeypatch.undo()
    with pytest.raises(InputError, match="not in this trace"):
        bv.head_view(trace, include_layers=[7])


def test_save_is_standalone_and_not_overwriting(trace, tmp_path):
    view = bv.head_view(trace)
    out = view.save(tmp_path / "head.html")
    assert out.read_text().startswith("<!DOCTYPE html>")
    with pytest.raises(FileExistsError):
        view.save(out)
    with pytest.raises(InputError, match="HTML"):
        view.save(tmp_path / "head.png")
    from sinkviz.export import export

    assert export(view, tmp_path / "via_export.html").read_text() == view.to_html()


def test_explore_view_bertviz(trace):
    view = explore(trace, view="bertviz")
    assert isinstance(view, bv.BertvizView) and view.kind == "head"
    assert "__sinkviz_vendor" in view._repr_html_()
    assert explore(trace, view="bertviz-model").kind == "model"
    with pytest.raises(ValueError, match="view="):
        explore(trace, view="nope")
