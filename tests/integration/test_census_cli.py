"""`sinkviz census` on the embedded SmolLM2-135M and the shipped text file: the JSON fields the issue lists."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import sinkviz
from sinkviz._version import source_digest
from sinkviz.census import CensusResult
from sinkviz.cli import main as cli_main

pytestmark = pytest.mark.real

SAMPLE = Path(sinkviz.__file__).parent / "data" / "census_sample.txt"


def test_shipped_sample_is_long_public_domain_text():
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    assert len(lines) >= 20 and min(len(x) for x in lines) >= 4500
    assert "public domain" in SAMPLE.with_suffix(".md").read_text().lower()


def test_cli_census_json_fields(tmp_path):
    out = tmp_path / "census.json"
    arrays = tmp_path / "census.npz"
    code = cli_main(["census", "smollm2-135m", "--texts", str(SAMPLE), "--seq-len", "64", "--limit", "3",
                     "--batch-size", "2", "--no-progress", "--out", str(out), "--save-arrays", str(arrays)])
    assert code == 0
    doc = json.loads(out.read_text())
    assert set(doc["sink"]) == {str(k) for k in range(1, 11)}
    assert all(0.0 <= v <= 100.0 for v in doc["sink"].values())
    assert doc["n_samples"] == 3 and doc["n_skipped"] == 0
    assert len(doc["alpha_first"]) == 30 and all(len(row) == 9 for row in doc["alpha_first"])  # layers x query heads
    for key, value in {"model": "smollm2-135m", "seq_len": 64, "eps": 0.3, "dtype": "float32", "device": "cpu",
                       "sinkviz_version": sinkviz.__version__,
                       "sinkviz_source_sha256": source_digest()}.items():  # the code that measured it
        assert doc[key] == value
    # the JSON is the arrays' summary: Sink_k from alpha with strict >, alpha_first its mean over samples
    res = CensusResult.load(arrays)
    assert res.alpha.shape == (3, 30, 9, 16)
    a = res.alpha
    for k in (1, 2, 10):
        assert doc["sink"][str(k)] == pytest.approx(100 * float((a[..., k - 1] > np.float32(0.3)).mean()))
    np.testing.assert_allclose(doc["alpha_first"], a[..., 0].mean(0), rtol=1e-6)
    # a causal model's first key is seen by every query: alpha_1 is its mean attention, between 1/T and 1
    assert (a[..., 0] >= 1 / 64 - 1e-6).all() and (a[..., 0] <= 1 + 1e-6).all()


def test_cli_skips_short_texts_and_says_so(tmp_path, capsys):
    texts = tmp_path / "t.jsonl"
    long_text = SAMPLE.read_text(encoding="utf-8").splitlines()[0]
    texts.write_text("\n".join(json.dumps({"text": t}) for t in [long_text, "Too short.", long_text[:2000]]) + "\n")
    out = tmp_path / "c.json"
    args = ["census", "smollm2-135m", "--texts", str(texts), "--seq-len", "48", "--layers", "0-1", "--no-progress",
            "--out", str(out)]
    assert cli_main(args) == 0
    doc = json.loads(out.read_text())
    assert doc["n_samples"] == 2 and doc["n_skipped"] == 1 and doc["layers"] == [0, 1]
    assert cli_main(args + ["--allow-shorter"]) == 0
    assert json.loads(out.read_text())["n_samples"] == 3
    # every text too short (≈ 1,100 tokens at most, against 8,000; within the model's 8,192 positions): a clear
    # error, and no JSON written
    out2 = tmp_path / "none.json"
    assert cli_main(["census", "smollm2-135m", "--texts", str(texts), "--seq-len", "8000", "--layers", "0",
                     "--no-progress", "--out", str(out2)]) == 2
    assert "--allow-shorter" in capsys.readouterr().err and not out2.exists()


def test_cli_sweeps_lengths_into_one_json(tmp_path, capsys):
    """--seq-len 32,1200 --join: one census per length, one JSON with an entry per length; the 1200-token texts are
    joined from consecutive lines of the shipped file (each line has fewer than 1,400 tokens), and --limit counts
    the joined texts of each length (4 at both), not the lines read; every epsilon asked for is reported, and the
    paper's 0.3 is the headline though it came second."""
    out = tmp_path / "lengths.json"
    arrays = tmp_path / "a.npz"
    code = cli_main(["census", "smollm2-135m", "--texts", str(SAMPLE), "--seq-len", "32,1200", "--join", "--limit",
                     "4", "--layers", "0", "29", "--eps", "0.5,0.3", "--no-progress", "--out", str(out),
                     "--save-arrays", str(arrays)])
    assert code == 0
    doc = json.loads(out.read_text())
    assert doc["seq_lens"] == [32, 1200] and doc["eps"] == [0.5, 0.3] and len(doc["runs"]) == 2
    short, long = doc["runs"]
    assert short["seq_len"] == 32 and long["seq_len"] == 1200 and long["joined_texts"] is True
    assert short["n_samples"] == long["n_samples"] == 4 and short["n_texts"] == long["n_texts"] == 4
    for run, T in ((short, 32), (long, 1200)):
        res = CensusResult.load(tmp_path / f"a_T{T}.npz")
        assert res.seq_len == T and res.layers == [0, 29]
        for eps in (0.3, 0.5):
            assert run["sink_by_eps"][f"{eps:g}"]["1"] == pytest.approx(
                100 * float((res.alpha[..., 0] > np.float32(eps)).mean()))
        assert run["sink"] == run["sink_by_eps"]["0.3"] and run["eps"] == 0.3
        assert run["sink_by_eps"]["0.5"]["1"] <= run["sink"]["1"]  # a higher threshold counts no more sinks
        np.testing.assert_allclose(run["mean_alpha_first_by_layer"], np.nanmean(res.alpha[..., 0], axis=(0, 2)),
                                   rtol=1e-6)
    # a length no joined text reaches: a clear error, nothing written
    out2 = tmp_path / "none.json"
    assert cli_main(["census", "smollm2-135m", "--texts", str(SAMPLE), "--seq-len", "10000000", "--join", "--limit",
                     "2", "--layers", "0", "--no-progress", "--out", str(out2)]) == 2
    assert "fewer than 10000000 tokens" in capsys.readouterr().err and not out2.exists()
    assert cli_main(["census", "smollm2-135m", "--texts", str(SAMPLE), "--seq-len", "64,x", "--no-progress",
                     "--out", str(out2)]) == 2
    assert "comma-separated" in capsys.readouterr().err


def test_headline_epsilon_is_the_papers_whenever_it_was_asked_for():
    from sinkviz.census.cli import headline_eps

    assert headline_eps([0.2, 0.3, 0.4]) == 0.3 and headline_eps([0.3]) == 0.3
    assert headline_eps([0.2, 0.5]) == 0.2  # without 0.3: the first given


def test_census_help_keeps_its_examples_copyable(capsys):
    """The help's multi-line example ends its first line with a shell continuation, as a user pastes it."""
    with pytest.raises(SystemExit):
        cli_main(["census", "--help"])
    help_text = capsys.readouterr().out
    assert "--seq-len 256,512,1024,2048 --join \\\n        --eps 0.2,0.3,0.4,0.5 --out lengths.json" in help_text


@pytest.mark.parametrize("flags, said", [
    (["--eps", "1.5"], "--eps values are thresholds"),
    (["--eps", "0"], "strictly between 0 and 1"),
    (["--limit", "-1"], "--limit must be at least 1"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--out", "/proc/sinkviz-census.json"], "--out: Cannot write"),
    (["--save-arrays", "/proc/sinkviz-arrays.npz"], "--save-arrays: Cannot write"),
])
def test_census_arguments_are_checked_before_any_model_loads(tmp_path, capsys, flags, said):
    """Bad arguments fail at once with what to change; an unwritable --out fails before the census runs, not
    after it with the results lost."""
    args = ["census", "smollm2-135m", "--texts", str(SAMPLE), "--seq-len", "64", "--no-progress",
            "--out", str(tmp_path / "c.json"), *flags]
    assert cli_main(args) == 2
    assert said in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing written, no probe left behind


def test_census_refuses_a_length_past_the_models_positions_before_a_forward(tmp_path, capsys):
    out = tmp_path / "c.json"
    args = ["census", "minilm-l6", "--texts", str(SAMPLE), "--seq-len", "600", "--join", "--limit", "1",
            "--no-progress", "--out", str(out)]
    assert cli_main(args) == 2
    err = capsys.readouterr().err
    assert "600 tokens, more than the 512 positions 'minilm-l6' supports. Use a shorter seq_len" in err
    assert not out.exists()
