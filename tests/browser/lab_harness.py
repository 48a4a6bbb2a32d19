"""Run a notebook in a real JupyterLab 4 or Notebook 7, in Debian's Chromium driven by Playwright (python).

Used by tests/browser/ and by benchmarks/bench_explorer.py. The server (`jupyter lab` or `jupyter notebook`,
the venv's) listens on 127.0.0.1 on a free port with a random token; its config, runtime, settings and
workspace folders are temporary, so nothing of the user's setup leaks in and nothing is left behind. Both
front ends are JupyterLab applications: with --expose-app-in-browser each sets `window.jupyterapp`, whose
`shell.currentWidget` is the open notebook, so the same page scripts drive either. The browser is the system
Chromium (Playwright's own browser is never downloaded), with a fresh user-data-dir.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Where the browser tests leave their screenshots (git-ignored).
ARTIFACTS = REPO / "test-artifacts" / "browser"
#: The explorer map's title (the canvas view's and plotly's).
TITLE = ".sinkviz-map .sv-title, .sinkviz-map .gtitle"
CHROMIUM = os.environ.get("SINKVIZ_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def jupyter_executable(name: str = "jupyter") -> str:
    """`name` (jupyter, jupyter-lab, jupyter-notebook) next to this Python (the venv's), so kernelspec
    "python3" is the venv's ipykernel; else the one on PATH."""
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else (shutil.which(name) or name)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_notebook(path: Path, cells: list[str]) -> Path:
    """A notebook of code cells, no outputs, kernelspec python3."""
    nb = {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
                   "source": src} for i, src in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb, indent=1))
    return path


#: The two web front ends the explorer is tested in: how each is started and where it opens a notebook.
APPS = {
    "lab": {"name": "JupyterLab", "trait": "LabApp", "url": "lab/tree",
            "extra": ["--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                      "--LabApp.extension_manager=readonly"]},
    "notebook": {"name": "Notebook 7", "trait": "JupyterNotebookApp", "url": "notebooks", "extra": []},
}


@contextmanager
def jupyterlab(root: Path, *, env: dict[str, str] | None = None, timeout: float = 90.0):
    """Start JupyterLab serving `root`; yields (base_url, token). Stops it (and its kernels) on exit."""
    with jupyter_server(root, app="lab", env=env, timeout=timeout) as started:
        yield started


@contextmanager
def jupyter_server(root: Path, *, app: str = "lab", env: dict[str, str] | None = None, timeout: float = 90.0):
    """Start `jupyter lab` or `jupyter notebook` (app "lab" / "notebook") serving `root`; yields (base_url, token).

    Stops it (and its kernels) on exit."""
    if app not in APPS:
        raise ValueError(f"app={app!r}: use one of {sorted(APPS)}.")
    spec = APPS[app]
    scratch = Path(tempfile.mkdtemp(prefix=f"sinkviz-{app}-"))
    settings = scratch / "settings"
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    # No news/update pop-ups: they are network requests and toasts over the notebook.
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port, token = free_port(), secrets.token_hex(24)
    child_env = dict(os.environ)
    child_env.update({
        "JUPYTER_CONFIG_DIR": str(scratch / "config"), "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
        "IPYTHONDIR": str(scratch / "ipython"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
        "JUPYTER_PLATFORM_DIRS": "1",
    })
    child_env.update(env or {})
    trait = spec["trait"]
    cmd = [
        jupyter_executable(f"jupyter-{app}"), "--no-browser", "--expose-app-in-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--{trait}.user_settings_dir={settings}", f"--{trait}.workspaces_dir={scratch / 'workspaces'}",
        "--ServerApp.terminals_enabled=False", *spec["extra"],
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log_path = scratch / f"jupyter-{app}.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=child_env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{spec['name']} exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{spec['name']} did not answer within {timeout:.0f} s")
            time.sleep(0.3)
        yield base, token
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: the server and the kernels it started
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        log.close()
        shutil.rmtree(scratch, ignore_errors=True)


@contextmanager
def chromium_page(viewport=(1500, 1100)):
    """A Playwright page in the system Chromium (headless, fresh profile); yields (page, console_errors)."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="sinkviz-chromium-")
    errors: list[str] = []
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": viewport[0], "height": viewport[1]})
            page = context.pages[0] if context.pages else context.new_page()
            page.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}")
                    if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc} {getattr(exc, 'stack', '')}"))
            try:
                yield page, errors
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def open_and_run(page, base: str, token: str, notebook: str, timeout_ms: int = 120_000, app: str = "lab") -> None:
    """Open `notebook` in JupyterLab (app "lab") or Notebook 7 (app "notebook") and run all its cells
    (through the app's command registry)."""
    page.goto(f"{base}/{APPS[app]['url']}/{notebook}?token={token}", wait_until="domcontentloaded")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=timeout_ms)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout_ms)
    # Wait for the kernel to be ready, then run everything.
    page.wait_for_function(
        """() => { const w = window.jupyterapp.shell.currentWidget;
                   return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel
                          && w.sessionContext.session.kernel.status === 'idle'; }""", timeout=timeout_ms)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


def kernel_idle_script() -> str:
    return """() => { const w = window.jupyterapp.shell.currentWidget;
                      return w.sessionContext.session.kernel.status === 'idle'
                             && !document.querySelector('.jp-InputPrompt:not(:empty)')?.textContent.includes('*'); }"""


def title_has(page, text: str, timeout: int = 30_000) -> None:
    """Wait until the explorer map's title contains ``text``."""
    page.wait_for_function(
        "([sel, text]) => { const t = document.querySelector(sel); return !!t && t.textContent.includes(text); }",
        arg=[TITLE, text], timeout=timeout)


def pixels(page, selector: str, name: str):
    """A screenshot of one element, saved as ARTIFACTS/name and returned as an RGB image."""
    import io

    from PIL import Image

    data = page.locator(selector).screenshot(path=str(ARTIFACTS / name))
    return Image.open(io.BytesIO(data)).convert("RGB")


def differs(a, b) -> float:
    """Share of pixels that differ between two screenshots of the same element."""
    import numpy as np

    if a.size != b.size:
        return 1.0
    return float((np.asarray(a).astype(int) != np.asarray(b).astype(int)).any(axis=2).mean())
