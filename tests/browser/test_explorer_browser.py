"""The explorer in a real JupyterLab 4 and a real Notebook 7, in Debian's Chromium (Playwright): it renders,
the layer slider and a click on the overview change the attention map, the hover read-out appears, the page
fetches nothing outside the local server, and the console stays clean. (VS Code's notebook renderer is not
tested here: it cannot run on this machine.) Standalone HTML (bertviz view,
exported figure) opens with the network blocked. Screenshots go to test-artifacts/browser/."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from lab_harness import APPS, REPO, chromium_page, jupyter_server, open_and_run, write_notebook

# Chromium is installed by `make test`; if it is missing the tests fail (they never skip).
pytestmark = [pytest.mark.browser]
ARTIFACTS = REPO / "test-artifacts" / "browser"
TITLE = ".sinkviz-map .sv-title, .sinkviz-map .gtitle"
#: Console errors of the front end itself, diagnosed as not ours; each is matched on message AND origin.
#: Notebook 7.6.5 (with JupyterLab 4.6.6): on opening any notebook (no cell run, no widget) its router loads
#: the settings of @jupyterlab/docmanager-extension:plugin and the shortcuts plugin's pluginChanged handler
#: reads `.schema` of that plugin, absent from its registry: one TypeError from notebook_core.*.js.
UPSTREAM_ERRORS = {
    "notebook": [re.compile(r"^pageerror: Cannot read properties of undefined \(reading 'schema'\).*"
                            r"/static/notebook/notebook_core\.[0-9a-f]+\.js", re.S)],
}


def _title_has(page, text: str, timeout: int = 30_000) -> None:
    page.wait_for_function(
        "([sel, text]) => { const t = document.querySelector(sel); return !!t && t.textContent.includes(text); }",
        arg=[TITLE, text], timeout=timeout)


def _pixels(page, selector: str, name: str):
    from PIL import Image

    data = page.locator(selector).screenshot(path=str(ARTIFACTS / name))
    return Image.open(io.BytesIO(data)).convert("RGB")


def _differs(a, b) -> float:
    """Share of pixels that differ between two screenshots of the same element."""
    import numpy as np

    if a.size != b.size:
        return 1.0
    return float((np.asarray(a).astype(int) != np.asarray(b).astype(int)).any(axis=2).mean())


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    import sinkviz
    from sinkviz.export import export
    from sinkviz.widgets.bertviz_view import head_view
    from sinkviz.widgets.explorer import explore
    from tiny_models import save_tiny, text

    root = tmp_path_factory.mktemp("lab")
    model_dir = save_tiny("llama", root / "tiny")
    words = text(30)
    write_notebook(root / "explorer_test.ipynb", [
        "from sinkviz.widgets.explorer import explore",
        f"ex = explore({str(model_dir)!r}, {words!r}, layer=0, head=0)\nex",
    ])
    tr = sinkviz.trace(sinkviz.load(str(model_dir), device="cpu"), text(10))
    head_view(tr).save(root / "head_view.html")
    export(explore(tr, layer=1, head=1), root / "map.html")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return root


@pytest.mark.parametrize("app", list(APPS))
def test_explorer_in_jupyter(workspace, app):
    """The same checks in JupyterLab 4 ("lab") and Notebook 7 ("notebook"); screenshots are named by app."""
    shot = lambda name: str(ARTIFACTS / f"{app}_{name}")  # noqa: E731
    with jupyter_server(workspace, app=app) as (base, token), chromium_page() as (page, errors):
        outside: list[str] = []

        def block(route):
            outside.append(route.request.url)
            route.abort()

        # Anything over http(s) to another host than the server fails and is recorded (no CDN, no news feed).
        page.route(re.compile(r"^https?://(?!" + re.escape(base[len("http://"):]) + r"/)"), block)
        open_and_run(page, base, token, "explorer_test.ipynb", app=app)
        _title_has(page, "layer 0, head 0", timeout=150_000)
        page.wait_for_timeout(500)
        page.screenshot(path=shot("page.png"))
        page.locator(".sinkviz-explorer").screenshot(path=shot("explorer_initial.png"))
        before = _pixels(page, ".sinkviz-map", f"{app}_map_layer0_head0.png")

        # Move the layer slider with the keyboard, as a user would.
        handle = page.locator(".sinkviz-layer-slider .noUi-handle")
        handle.focus()
        page.keyboard.press("ArrowRight")
        _title_has(page, "layer 1, head 0")
        page.wait_for_timeout(300)
        after_slider = _pixels(page, ".sinkviz-map", f"{app}_map_layer1_head0.png")
        assert _differs(before, after_slider) > 0.01, "the map did not change after moving the layer slider"

        # Click the overview cell of layer 2, head 3 (3 layers down, 4 heads across).
        overview = page.locator(".sinkviz-overview canvas.sv-canvas")
        overview.scroll_into_view_if_needed()
        box = overview.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 3.5 / 4, box["y"] + box["height"] * 2.5 / 3)
        _title_has(page, "layer 2, head 3")
        page.wait_for_timeout(300)
        after_click = _pixels(page, ".sinkviz-map", f"{app}_map_layer2_head3.png")
        assert _differs(after_slider, after_click) > 0.01, "the map did not change after clicking a head"
        # Hover read-out: query token, key token and weight of the cell under the mouse.
        cells = page.locator(".sinkviz-map canvas.sv-canvas")
        cells.scroll_into_view_if_needed()
        cbox = cells.bounding_box()
        page.mouse.move(cbox["x"] + cbox["width"] * 0.2, cbox["y"] + cbox["height"] * 0.8)
        tip = page.locator(".sinkviz-map .sv-tip")
        tip.wait_for(state="visible", timeout=5_000)
        assert all(word in tip.inner_text() for word in ("query", "key", "weight ="))
        readouts = page.locator(".sinkviz-explorer .widget-readout").all_inner_texts()
        assert readouts[:2] == ["2", "3"], f"sliders not in step with the click: {readouts}"
        page.locator(".sinkviz-explorer").screenshot(path=shot("explorer_after_click.png"))
        # A key pressed in the explorer is not a notebook shortcut ("a" would insert a cell above; _keys.py).
        handle.focus()
        page.keyboard.press("a")
        page.wait_for_timeout(300)
        assert page.locator(".jp-Notebook .jp-Cell").count() == 2, "a key in the explorer ran a notebook shortcut"
        assert outside == [], f"{APPS[app]['name']} page tried to fetch from outside the server: {outside}"
        ours = [e for e in errors if not any(p.match(e) for p in UPSTREAM_ERRORS.get(app, []))]
        assert ours == [], f"browser console errors in {APPS[app]['name']}: {ours}"


def test_standalone_html_opens_offline(workspace):
    with chromium_page() as (page, errors):
        requested: list[str] = []

        def block(route):
            requested.append(route.request.url)
            route.abort()

        page.route("http*://**/*", block)  # no network: anything fetched over http(s) fails and is recorded
        page.goto((workspace / "head_view.html").as_uri())
        page.wait_for_function("() => document.querySelectorAll('#vis svg text').length > 5", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "bertviz_head_view_offline.png"))
        page.goto((workspace / "map.html").as_uri())
        page.wait_for_selector(".js-plotly-plot .heatmaplayer image, .js-plotly-plot .hm image", timeout=30_000)
        assert "layer 1, head 1" in page.locator(".gtitle").text_content()
        page.screenshot(path=str(ARTIFACTS / "exported_map_offline.png"))
        assert requested == [], f"the standalone pages tried to fetch {requested}"
        assert errors == [], f"browser console errors: {errors}"


def test_artifacts_are_ignored_by_git():
    ignore = (Path(REPO) / ".gitignore").read_text().split()
    assert "test-artifacts/" in ignore
