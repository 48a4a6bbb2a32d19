"""The long-context explorer in a real JupyterLab 4 (Chromium, Playwright): a text past the long-context threshold
opens in long-context mode, and a head switch, a zoom to a 64-token window and a move of that window each redraw the
map; the zoomed window shows token labels. The threshold is lowered (`long_context_tokens=100`) so a 240-token text
on a tiny model exercises the mode in CI time. Screenshots go to test-artifacts/browser/."""
from __future__ import annotations

import pytest

from lab_harness import (ARTIFACTS, chromium_page, differs, jupyter_server, open_and_run, pixels, title_has,
                         write_notebook)

pytestmark = [pytest.mark.browser]
NOTE = ".sinkviz-map .sv-note"


@pytest.fixture(scope="module")
def long_workspace(tmp_path_factory):
    from tiny_models import save_tiny_long_llama, text

    root = tmp_path_factory.mktemp("long")
    folder = save_tiny_long_llama(root / "tiny_long")
    write_notebook(root / "long.ipynb", [
        "from sinkviz.widgets.explorer import explore",
        f"ex = explore({str(folder)!r}, {text(80)!r}, long_context_tokens=100, layer=1, head=2, scale='log10')\nex",
    ])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return root


def test_long_context_explorer_switches_head_and_moves_the_window(long_workspace):
    with jupyter_server(long_workspace, app="lab") as (base, token), chromium_page() as (page, errors):
        open_and_run(page, base, token, "long.ipynb")
        title_has(page, "layer 1, head 2", timeout=150_000)
        assert page.locator(".sinkviz-long-context").count() == 1
        assert "long-context mode" in page.locator(".sinkviz-long-context .sinkviz-info").inner_text()
        page.wait_for_timeout(500)
        whole = pixels(page, ".sinkviz-map", "long_whole_layer1_head2.png")

        # head switch with the keyboard, as a user would
        page.locator(".sinkviz-long-context .sinkviz-head-slider .noUi-handle").focus()
        page.keyboard.press("ArrowRight")
        title_has(page, "layer 1, head 3")
        page.wait_for_timeout(300)
        switched = pixels(page, ".sinkviz-map", "long_whole_layer1_head3.png")
        assert differs(whole, switched) > 0.01, "the map did not change after the head switch"

        # zoom to a 64-token window: one token a cell, so token labels appear on the axes
        page.locator(".sinkviz-window-size select").select_option(label="64")
        page.wait_for_function("(sel) => { const n = document.querySelector(sel);"
                               " return !!n && n.textContent.includes('queries 0'); }", arg=NOTE, timeout=30_000)
        page.wait_for_timeout(300)
        zoomed = pixels(page, ".sinkviz-map", "long_window64_start0.png")
        ticks = page.locator(".sinkviz-map .sv-xaxis .sv-tick").all_inner_texts()
        assert ticks and ticks[0].startswith("0 "), f"no token labels in a 64-token window: {ticks[:5]}"

        # move the window (the start slider steps by 8 tokens)
        page.locator(".sinkviz-window-start .noUi-handle").focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("(sel) => document.querySelector(sel).textContent.includes('queries 8')", arg=NOTE,
                               timeout=30_000)
        page.wait_for_timeout(300)
        moved = pixels(page, ".sinkviz-map", "long_window64_start8.png")
        assert differs(zoomed, moved) > 0.01, "the map did not change after moving the window"
        page.locator(".sinkviz-long-context").screenshot(path=str(ARTIFACTS / "long_context_explorer.png"))
        assert errors == [], f"browser console errors: {errors}"
