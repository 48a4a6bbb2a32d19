"""The explorer in a real JupyterLab 4 and a real Notebook 7, in Debian's Chromium (Playwright): it renders,
the layer slider and a click on the overview change the attention map, the hover read-out appears, the page
fetches nothing outside the local server, and the console stays clean. (VS Code's notebook renderer is not
tested here: it cannot run on this machine.) Standalone HTML (bertviz view,
exported figure) opens with the network blocked. Screenshots go to test-artifacts/browser/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lab_harness import (
    APPS,
    ARTIFACTS,
    REPO,
    chromium_page,
    differs,
    jupyter_server,
    open_and_run,
    pixels,
    title_has,
    write_notebook,
)

# Chromium is installed by `make test`; if it is missing the tests fail (they never skip).
pytestmark = [pytest.mark.browser]
#: Console errors of the front end itself, diagnosed as not ours; each is matched on message AND origin.
#: Notebook 7.6.5 (with JupyterLab 4.6.6): on opening any notebook (no cell run, no widget) its router loads
#: the settings of @jupyterlab/docmanager-extension:plugin and the shortcuts plugin's pluginChanged handler
#: reads `.schema` of that plugin, absent from its registry: one TypeError from notebook_core.*.js.
UPSTREAM_ERRORS = {
    "notebook": [re.compile(r"^pageerror: Cannot read properties of undefined \(reading 'schema'\).*"
                            r"/static/notebook/notebook_core\.[0-9a-f]+\.js", re.S)],
}


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
        title_has(page, "layer 0, head 0", timeout=150_000)
        page.wait_for_timeout(500)
        page.screenshot(path=shot("page.png"))
        page.locator(".sinkviz-explorer").screenshot(path=shot("explorer_initial.png"))
        before = pixels(page, ".sinkviz-map", f"{app}_map_layer0_head0.png")

        # Move the layer slider with the keyboard, as a user would.
        handle = page.locator(".sinkviz-layer-slider .noUi-handle")
        handle.focus()
        page.keyboard.press("ArrowRight")
        title_has(page, "layer 1, head 0")
        page.wait_for_timeout(300)
        after_slider = pixels(page, ".sinkviz-map", f"{app}_map_layer1_head0.png")
        assert differs(before, after_slider) > 0.01, "the map did not change after moving the layer slider"

        # Click the overview cell of layer 2, head 3 (3 layers down, 4 heads across).
        overview = page.locator(".sinkviz-overview canvas.sv-canvas")
        overview.scroll_into_view_if_needed()
        box = overview.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 3.5 / 4, box["y"] + box["height"] * 2.5 / 3)
        title_has(page, "layer 2, head 3")
        page.wait_for_timeout(300)
        after_click = pixels(page, ".sinkviz-map", f"{app}_map_layer2_head3.png")
        assert differs(after_slider, after_click) > 0.01, "the map did not change after clicking a head"
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


# ---------------------------------------------------------------------------- issue 14: a researcher's daily use

MENU = ".sinkviz-model-menu select"


@pytest.fixture(scope="module")
def daily_workspace(tmp_path_factory):
    """A tiny LLaMA that takes 1,024 positions (so a 300-token text fits) and a notebook opening it at 300 tokens."""
    from tiny_models import save_tiny_long_llama, text

    root = tmp_path_factory.mktemp("daily")
    folder = save_tiny_long_llama(root / "tiny_long")
    write_notebook(root / "daily.ipynb", [
        "from sinkviz.widgets.explorer import explore",
        f"ex = explore({str(folder)!r}, {text(100)!r}, layer=1, head=2)\nex",
    ])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return root, folder


def _status_has(page, text: str, timeout: int = 60_000) -> None:
    page.wait_for_function(
        "(text) => [...document.querySelectorAll('.sinkviz-explorer .sinkviz-info, .sinkviz-explorer .sinkviz-error')]"
        ".some((e) => e.textContent.includes(text))", arg=text, timeout=timeout)


def _tick_boxes(page, axis: str) -> list[dict]:
    return page.evaluate(
        "(sel) => [...document.querySelectorAll(sel)].map((t) => { const r = t.getBoundingClientRect();"
        " return {text: t.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom}; })",
        f".sinkviz-map .sv-{axis}axis .sv-tick")


def test_daily_use_in_jupyterlab(daily_workspace):
    """Items 1, 2, 5 and 8 of issue 14 in a real JupyterLab: a 300-token map whose labels do not collide, the
    model dropdown, the selection kept across a new text, and a failed Trace greying the map out."""
    root, folder = daily_workspace
    shot = lambda name: str(ARTIFACTS / f"daily_{name}")  # noqa: E731
    with jupyter_server(root, app="lab") as (base, token), chromium_page() as (page, errors):
        open_and_run(page, base, token, "daily.ipynb")
        title_has(page, "layer 1, head 2", timeout=150_000)
        page.wait_for_timeout(500)
        explorer = page.locator(".sinkviz-explorer")
        explorer.screenshot(path=shot("300_tokens.png"))
        page.locator(".sinkviz-map").screenshot(path=shot("300_tokens_map.png"))

        # Item 2: 300 tokens, labels thinned and short; none overlaps another or the axis title.
        ys, xs = _tick_boxes(page, "y"), _tick_boxes(page, "x")
        assert 5 <= len(ys) <= 40 and 5 <= len(xs) <= 40, (len(ys), len(xs))
        assert all(len(t["text"]) <= 14 for t in ys + xs)
        assert all(b["top"] >= a["bottom"] - 0.5 for a, b in zip(ys, ys[1:])), "query labels overlap"
        assert all(b["left"] - a["left"] >= 13 for a, b in zip(xs, xs[1:])), "key labels closer than a line"
        x_title = page.locator(".sinkviz-map .sv-xtitle").bounding_box()
        assert x_title["y"] >= max(t["bottom"] for t in xs) - 0.5, "key labels run into the axis title"

        # Item 8: a dropdown of the registry models (and the cache) that still takes a folder or hub id.
        options = [o.replace("\xa0", " ") for o in page.locator(f"{MENU} option").all_inner_texts()]
        assert any(o.startswith("smollm2-135m") for o in options) and any(o.startswith("minilm-l6") for o in options)
        assert options[-1] == "folder or hub id\u2026" and str(folder) in options
        other = page.locator(".sinkviz-model-other input")
        assert not other.is_visible()
        page.locator(MENU).select_option(index=len(options) - 1)
        other.wait_for(state="visible", timeout=10_000)
        page.locator(".sinkviz-explorer").screenshot(path=shot("model_menu_other.png"))

        # Item 5: a failed Trace greys the old map out and turns Export off.
        other.fill(str(root / "no-such-model"))
        page.locator(".sinkviz-explorer button:has-text('Trace')").click()
        page.wait_for_selector(".sinkviz-explorer .sinkviz-error", timeout=60_000)
        page.wait_for_selector(".sinkviz-stale", timeout=10_000)
        page.wait_for_timeout(400)
        opacity = page.evaluate("() => getComputedStyle(document.querySelector('.sinkviz-stale .sinkviz-map')).opacity")
        assert float(opacity) < 0.5, opacity
        assert page.locator(".sinkviz-explorer button:has-text('Export')").is_disabled()
        assert "last Trace failed" in page.locator(".sinkviz-stale-note").inner_text()
        explorer.screenshot(path=shot("stale_after_failed_trace.png"))

        # Item 1: back to the model, a new text: the same layer and head are shown, and no longer greyed out.
        page.locator(MENU).select_option(index=options.index(str(folder)))
        page.locator(".sinkviz-explorer textarea").fill(text_of(60))
        page.locator(".sinkviz-explorer button:has-text('Trace')").click()
        _status_has(page, "Kept layer 1, head 2")
        title_has(page, "layer 1, head 2")
        page.wait_for_function("() => !document.querySelector('.sinkviz-stale')", timeout=10_000)
        assert page.locator(".sinkviz-explorer button:has-text('Export')").is_enabled()
        readouts = page.locator(".sinkviz-explorer .widget-readout").all_inner_texts()
        assert readouts[:2] == ["1", "2"], readouts
        page.wait_for_timeout(400)
        explorer.screenshot(path=shot("kept_selection_new_text.png"))
        ours = [e for e in errors if not any(p.match(e) for p in UPSTREAM_ERRORS.get("lab", []))]
        assert ours == [], f"browser console errors: {ours}"


def text_of(n_words: int) -> str:
    from tiny_models import text

    return text(n_words, offset=5)
