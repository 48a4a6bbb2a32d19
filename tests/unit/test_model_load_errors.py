"""`sinkviz.load` fails fast and clearly: a misspelt registry name, a hub id without network, no model at all,
a device that is not there. None of these may wait on the network (the hub is unreachable here)."""

from __future__ import annotations

import socket

import pytest

import sinkviz
from sinkviz import models
from sinkviz.errors import InputError, ModelNotFoundError

def _no_network(monkeypatch):
    """Any attempt to open a socket fails the test: these errors must come without asking the network."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"network used: {args[:1]}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.parametrize("typo", ["smollm3-135m", "SmolLM2-135M", "smollm2_135m", "minilm-l5"])
def test_near_miss_of_a_registry_name_fails_at_once_with_the_suggestion(typo, monkeypatch):
    _no_network(monkeypatch)
    monkeypatch.setattr(models, "hub_reachable", lambda *a, **k: pytest.fail("the hub was probed for a typo"))
    with pytest.raises(ModelNotFoundError) as err:
        sinkviz.load(typo)
    meant = "minilm-l6" if typo.startswith("minilm") else "smollm2-135m"
    assert f"did you mean {meant!r}?" in str(err.value)


def test_a_hub_id_fails_fast_when_the_hub_is_switched_off(monkeypatch):
    _no_network(monkeypatch)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(models, "hub_reachable", lambda *a, **k: pytest.fail("HF_HUB_OFFLINE was not respected"))
    with pytest.raises(ModelNotFoundError) as err:
        sinkviz.load("gpt2")
    message = str(err.value)
    assert "HF_HUB_OFFLINE" in message and "not in its cache" in message
    assert "save_pretrained(DIR)" in message and "sinkviz.load('DIR')" in message


def test_an_unreachable_hub_is_probed_once_then_the_error_comes(monkeypatch):
    from huggingface_hub import constants

    for flag in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(flag, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with socket.socket() as s:  # a port nobody listens on: the probe is refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
    probes = []
    real_probe = models.hub_reachable
    monkeypatch.setattr(models, "hub_reachable", lambda *a, **k: probes.append(1) or real_probe(*a, **k))
    monkeypatch.setattr(models, "_from_pretrained",
                        lambda *a, **k: pytest.fail("transformers was asked although the hub is unreachable"))
    with pytest.raises(ModelNotFoundError, match=r"could not be reached.*sinkviz\.load\('DIR'\)"):
        sinkviz.load("gpt2")
    assert probes == [1]


def test_hub_probe_is_bounded_by_its_timeout(monkeypatch):
    import urllib.request

    import threading

    released = threading.Event()

    def hang(*args, **kwargs):  # a probe that never answers until the test lets it go
        released.wait(30)
        raise OSError("no answer")

    monkeypatch.setattr(urllib.request, "urlopen", hang)
    try:
        assert models.hub_reachable(timeout=0.3) is False  # returned while the probe still hangs
        assert not released.is_set()
    finally:
        released.set()


def test_a_cached_hub_model_loads_from_the_cache_without_probing(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(models, "_in_hub_cache", lambda name: True)
    assert models._hub_access("org/cached-model") == {"local_files_only": True}


@pytest.mark.parametrize("missing", [None, "", "   "])
def test_no_model_given_is_a_clear_input_error(missing, monkeypatch):
    _no_network(monkeypatch)
    with pytest.raises(InputError, match=r"No model given.*registry name.*smollm2-135m"):
        sinkviz.load(missing)


def test_cuda_without_a_cuda_build_is_an_input_error(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match=r"device='cuda'.*sees no CUDA GPU.*device='auto'"):
        models.resolve_device("cuda")
    with pytest.raises(InputError, match="sees no CUDA GPU"):
        sinkviz.load("smollm2-135m", device="cuda")  # before any weights are read


def test_dequantised_copies_are_named_by_content_and_only_orphans_are_deleted(tmp_path, monkeypatch):
    """Two environments that installed the same GGUF file (different mtimes) share one dequantised copy; a copy
    is deleted only when no installed GGUF would use it: its GGUF is gone, or it carries an earlier sinkviz's
    mtime name (named by mtime, each install deleted the others' copies, even one another process was loading)."""
    import json
    import os
    from types import SimpleNamespace

    from sinkviz.models import _gguf_cache_folder, _orphaned_copies

    monkeypatch.setenv("SINKVIZ_CACHE", str(tmp_path / "cache"))
    entry = SimpleNamespace(name="smollm2-135m")
    content = os.urandom(3 << 20)
    first, second, other = tmp_path / "a.gguf", tmp_path / "b.gguf", tmp_path / "c.gguf"
    first.write_bytes(content)
    second.write_bytes(content)
    os.utime(second, (1_000_000, 1_000_000))
    other.write_bytes(content[:-1] + bytes([content[-1] ^ 1]))  # one byte differs, in the last MiB
    assert _gguf_cache_folder(entry, first) == _gguf_cache_folder(entry, second)
    assert _gguf_cache_folder(entry, other) != _gguf_cache_folder(entry, first)
    keep = _gguf_cache_folder(entry, first)
    copies = {"mine": keep, "other-env": _gguf_cache_folder(entry, other),
              "uninstalled": keep.parent / "smollm2-135m-1-0123456789abcdef",
              "old-name": keep.parent / f"smollm2-135m-{len(content)}-1700000000"}  # an earlier sinkviz's mtime name
    for name, source in (("mine", first), ("other-env", other), ("uninstalled", tmp_path / "gone.gguf"),
                         ("old-name", second)):
        copies[name].mkdir(parents=True)
        (copies[name] / "sinkviz_source.json").write_text(json.dumps({"gguf": str(source)}))
    (keep.parent / "smollm2-135m-foreign").mkdir()  # no sinkviz_source.json: not ours
    assert sorted(_orphaned_copies(entry, keep)) == sorted([copies["uninstalled"], copies["old-name"]])
