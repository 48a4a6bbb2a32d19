"""What the lab's figures draw: each trace's name and values are the committed run's numbers for the metric it
names, and the axes say what is plotted (``tests/lab/test_results.py`` checks only that the figures build).

The expected values are read straight from the runs' history (``load_results``, as test_results.py reads them),
not through ``sinkviz.lab.results.series`` / ``final``, so that a figure drawing another run, another metric or
another evaluation fails here."""

from __future__ import annotations

import numpy as np
import pytest

from sinkviz.lab import figures
from sinkviz.lab.results import TABLE_RUNS, load_results

RUNS = load_results()


def _history(run, key):
    """(steps, values) of one history field, evaluations without it left out."""
    pairs = [(h["step"], h[key]) for h in run["history"] if h.get(key) is not None]
    return [s for s, _ in pairs], [v for _, v in pairs]


def _traces(fig):
    return {t.name: t for t in fig.data}


def _floats(values):
    return [float(v) for v in values]


def test_runs_used_here_differ_where_the_assertions_need_them_to():
    """The assertions below can only tell runs apart if the runs' numbers differ."""
    default, lr, k_bias = RUNS["default"], RUNS["lr_2e-3"], RUNS["k_bias"]
    assert _history(default, "train_loss")[1] != _history(lr, "train_loss")[1]
    assert _history(default, "valid_loss")[1] != _history(default, "train_loss")[1]
    assert default["history"][-1]["massive_ratio"] != RUNS["sigmoid_nonorm"]["history"][-1]["massive_ratio"]
    assert RUNS["control"]["history"][-1]["sink_k"] != RUNS["control_seed1"]["history"][-1]["sink_k"]
    assert _history(k_bias, "sink_star")[1][-1] > 30  # k_bias puts its sink on the slot


@pytest.mark.parametrize("name", ["default", "k_bias"])
def test_emergence_figure_draws_the_runs_losses_and_sinks(name):
    run = RUNS[name]
    fig = figures.emergence_figure(run)
    traces = _traces(fig)
    has_star = any(h.get("sink_star") is not None for h in run["history"])
    assert list(traces) == ["train loss", "valid loss", "Sink₁ (%)"] + (["Sink_* (%)"] if has_star else [])
    for trace_name, key in (("train loss", "train_loss"), ("valid loss", "valid_loss"), ("Sink₁ (%)", "sink_1"),
                            ("Sink_* (%)", "sink_star")):
        if trace_name not in traces:
            continue
        steps, values = _history(run, key)
        assert list(traces[trace_name].x) == steps, trace_name
        assert _floats(traces[trace_name].y) == values, trace_name
    # step 0 has no train loss (no step was taken), every evaluation has a valid loss
    assert traces["train loss"].x[0] > 0 and traces["valid loss"].x[0] == 0
    # losses on the left axis, sinks (%) on the right
    assert traces["train loss"].yaxis == traces["valid loss"].yaxis == "y"
    assert traces["Sink₁ (%)"].yaxis == "y2"
    assert fig.layout.xaxis.title.text == "training step"
    assert fig.layout.yaxis.title.text == "loss"
    assert fig.layout.yaxis2.title.text == "Sink (%), ε = 0.3" and tuple(fig.layout.yaxis2.range) == (-2, 102)
    assert f"Sink emergence: {name} " in fig.layout.title.text
    last = run["history"][-1]
    caption = " ".join(a.text for a in fig.layout.annotations)
    assert f"lab, {run['step']} steps: Sink₁ {last['sink_1']:.2f}%, valid loss {last['valid_loss']:.3f}" in caption
    if has_star:
        assert traces["Sink_* (%)"].yaxis == "y2" and traces["Sink_* (%)"].y[-1] == pytest.approx(34.4167, abs=1e-4)
        assert f"Sink_* {last['sink_star']:.2f}%" in caption


def test_lr_figure_gives_each_label_its_own_runs_train_loss_and_sink():
    runs = {"1e-3": RUNS["default"], "2e-3": RUNS["lr_2e-3"]}
    fig = figures.lr_figure(runs)
    traces = _traces(fig)
    assert list(traces) == ["1e-3 loss", "1e-3 Sink₁", "2e-3 loss", "2e-3 Sink₁"]
    for label, run in runs.items():
        steps, losses = _history(run, "train_loss")
        assert list(traces[f"{label} loss"].x) == steps and _floats(traces[f"{label} loss"].y) == losses
        steps, sinks = _history(run, "sink_1")
        assert list(traces[f"{label} Sink₁"].x) == steps and _floats(traces[f"{label} Sink₁"].y) == sinks
        assert traces[f"{label} loss"].yaxis == "y" and traces[f"{label} Sink₁"].yaxis == "y2"
        assert traces[f"{label} Sink₁"].line.dash == "dash"
        assert traces[f"{label} loss"].line.color == traces[f"{label} Sink₁"].line.color  # one colour per run
    assert traces["1e-3 loss"].line.color != traces["2e-3 loss"].line.color
    assert traces["2e-3 loss"].y[-1] == pytest.approx(0.6769) and traces["1e-3 loss"].y[-1] == pytest.approx(0.5711)
    assert fig.layout.xaxis.title.text == "training step"
    assert fig.layout.yaxis.title.text == "train loss" and fig.layout.yaxis2.title.text == "Sink₁ (%)"
    # the single-run call of test_results.py draws the default run under its label
    single = _traces(figures.lr_figure({"1e-3": RUNS["default"]}))
    assert list(single) == ["1e-3 loss", "1e-3 Sink₁"]
    assert _floats(single["1e-3 loss"].y) == _history(RUNS["default"], "train_loss")[1]


def test_table_figure_cells_are_each_rows_final_numbers_and_the_papers():
    item = "table4_biases"
    fig = figures.table_figure(item, RUNS)
    assert len(fig.data) == 1
    table = fig.data[0]
    header = [h.replace("<b>", "").replace("</b>", "") for h in table.header.values]
    assert header == ["setting", "lab Sink_*", "lab Sink_1", "lab valid loss", "lab steps",
                      "paper Sink_*", "paper Sink_1", "paper valid loss"]
    cols = {h: list(c) for h, c in zip(header, table.cells.values)}
    assert cols["setting"] == [label for label, _, _ in TABLE_RUNS[item]]

    def cell(value):
        return "–" if value is None else f"{value:.2f}"

    for i, (_, run_name, _) in enumerate(TABLE_RUNS[item]):
        last = RUNS[run_name]["history"][-1]
        assert cols["lab Sink_*"][i] == cell(last.get("sink_star")), run_name
        assert cols["lab Sink_1"][i] == cell(last["sink_1"]), run_name
        assert cols["lab valid loss"][i] == cell(last["valid_loss"]), run_name
        assert cols["lab steps"][i] == f"{RUNS[run_name]['step']} ({RUNS[run_name]['status']})", run_name
    # the concrete committed numbers (K biases put 34.42 % on the slot; the paper's 73.34 beside it)
    assert cols["lab Sink_*"] == ["–", "0.17", "33.08", "34.42", "–"]
    assert cols["lab valid loss"] == ["5.51", "5.48", "5.51", "5.52", "5.39"]
    assert cols["paper Sink_*"] == ["–", "74.12", "72.76", "73.34", "–"]
    assert cols["paper Sink_1"] == ["18.18", "0.00", "0.04", "0.00", "17.53"]
    assert cols["paper valid loss"] == ["3.73", "3.72", "3.72", "3.72", "3.73"]


def test_massive_figure_draws_each_runs_final_ratio_per_block():
    runs = {"a": RUNS["default"], "b": RUNS["sigmoid_nonorm"]}
    fig = figures.massive_figure(runs)
    traces = _traces(fig)
    assert list(traces) == ["a", "b"]
    for label, run in runs.items():
        ratio = run["history"][-1]["massive_ratio"]
        assert _floats(traces[label].y) == ratio, label
        assert list(traces[label].x) == list(range(len(ratio)))  # block 0 = embeddings
    assert traces["a"].y[-1] == pytest.approx(1.8616) and traces["b"].y[1] == pytest.approx(0.6828)
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.yaxis.title.text == "‖h₁‖ / mean ‖hₜ‖ (t≠1)"
    assert "0 = embeddings" in fig.layout.xaxis.title.text
    # a (run, key) pair reads that key, and a missing key fails naming the run
    with pytest.raises(KeyError, match="default"):
        figures.massive_figure({"a": (RUNS["default"], "massive_ratio_pre_ln")})


def test_frame_emergence_figure_draws_the_frame_and_rmt_numbers_of_every_evaluation():
    run = RUNS["default"]
    fig = figures.frame_emergence_figure(run)
    traces = _traces(fig)
    history = [h for h in run["history"] if "frames" in h]
    steps = [h["step"] for h in history]
    assert steps[0] == 0 and len(steps) == len(run["history"])
    # log x: step 0 is drawn at half the smallest positive step
    xs = [float(x) for x in traces["start share"].x]
    assert xs == [steps[1] / 2] + [float(s) for s in steps[1:]]
    for key in ("start_share", "end_share", "interior_share"):
        name = key.replace("_", " ")
        assert _floats(traces[name].y) == [h["frames"][key] for h in history], name
        assert traces[name].xaxis == "x"
    for key in ("published_spectral_gap", "corrected_marchenko_pastur_ks", "published_marchenko_pastur_kl"):
        name = key.replace("_", " ")
        assert _floats(traces[name].y) == [h["rmt"]["median"][key] for h in history], name
        assert traces[name].xaxis == "x2"  # the random-matrix panel
    assert traces["corrected marchenko pastur ks"].y[0] == pytest.approx(0.5609)
    assert set(traces["corrected MP-KS: uniform null"].y) == {0.5605}
    assert set(traces["corrected MP-KS: random-logit null"].y) == {0.4162}
    assert fig.layout.xaxis.title.text == fig.layout.xaxis2.title.text == "training step"
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.title.text == "share"
    assert "Frame emergence over training: default" in fig.layout.title.text


@pytest.mark.parametrize("names", [("default",), ("control", "control_seed1")])
def test_sink_position_figure_draws_each_runs_final_sink_k(names):
    runs = {f"run {i}": RUNS[n] for i, n in enumerate(names)}
    fig = figures.sink_position_figure(runs)
    traces = _traces(fig)
    assert list(traces) == list(runs)
    for label, run in runs.items():
        sink_k = run["history"][-1]["sink_k"]
        assert list(traces[label].x) == list(range(1, 11))  # k = 1..10, the paper's numbering
        assert _floats(traces[label].y) == sink_k[:10], label
    if "control" in names:
        assert traces["run 0"].y[0] == pytest.approx(12.0417, abs=1e-3)
        assert traces["run 1"].y[0] == pytest.approx(33.29, abs=1e-2)
        top = max(max(r["history"][-1]["sink_k"]) for r in runs.values())
        assert tuple(fig.layout.yaxis.range) == pytest.approx((-0.03 * top, 1.05 * top))
    assert fig.layout.xaxis.title.text == "token position k (1-indexed)"
    assert fig.layout.yaxis.title.text == "Sink_k^ε (%)"
    assert np.all(np.asarray(fig.data[0].y) >= 0)


def test_figures_say_when_a_seed_scored_its_own_validation_windows():
    """The control and contrast figures draw seed 1's valid loss beside seed 0's; they carry a caption saying that
    seed 1 was scored on other windows (committed further seeds: ``valid_windows: "run_seed"``), and none when every
    run drawn shares seed 0's windows."""
    def notes(fig):
        return " ".join(a.text for a in fig.layout.annotations if "own seed" in (a.text or ""))

    both = figures.control_figure({"seed 0": RUNS["control"], "seed 1": RUNS["control_seed1"]})
    assert notes(both).startswith("valid loss of seed 1 on windows drawn with the run's own seed")
    assert "one model scores 0.08 higher on seed 1's windows" in notes(both)
    # seed 2 of the control was scored on seed 0's windows: the caption names seed 1 only
    three = figures.control_figure({"seed 0": RUNS["control"], "seed 1": RUNS["control_seed1"],
                                    "seed 2": RUNS["control_seed2"]})
    assert notes(three) == notes(both)
    assert notes(figures.control_figure({"seed 0": RUNS["control"], "seed 2": RUNS["control_seed2"]})) == ""
    assert notes(figures.control_figure({"seed 0": RUNS["control"]})) == ""
    # among the contrasts' seeds 2 only NoPE's drew its own windows (ALiBi's, learned positions' and the control's
    # used seed 0's): the caption names that run, not every seed 2; among the seeds 1 only 50 MB's, 25 MB's and bf16
    # weights' used seed 0's, and the caption names those exceptions
    assert ("<br>valid loss of seed 1 (except control_data_50mb's, control_data_25mb's and control_bf16's) and of "
            "control_nope's seed 2 "
            "on windows"
            in notes(figures.contrast_figure(RUNS)))
    def run(name: str, seed: int, windows: str) -> dict:
        return {"name": name, "config": {"seed": seed, "eval": {"valid_windows": windows}}}
    three_named = figures._own_windows_note([run("a", 1, "run_seed"), run("b", 2, "run_seed"), run("c", 2, "fixed"),
                                             run("d", 3, "run_seed"), run("e", 3, "fixed")])
    assert three_named.startswith("valid loss of seed 1, of b's seed 2 and of d's seed 3 on windows drawn")
    # the fewer side is named: one exception among three own-window seeds 1; a tie names the runs that drew their own
    mostly_own = figures._own_windows_note([run("a", 1, "run_seed"), run("b", 1, "run_seed"), run("c", 1, "fixed"),
                                            run("d", 2, "run_seed"), run("e", 2, "fixed")])
    assert mostly_own.startswith("valid loss of seed 1 (except c's) and of d's seed 2 on windows drawn")
    seed_0_only = {name: run for name, run in RUNS.items() if not run["config"].get("seed")}
    assert notes(figures.contrast_figure(seed_0_only)) == ""


def test_no_two_runs_of_the_lab_figures_draw_alike():
    """The control's six seeds and every contrast's further seeds (lr 5e-4 has four) in the contrast figure, and the
    thirteen runs of the notebook's data sweep, each draw with their own line: a repeated colour and dash reads as the
    same run."""
    fig = figures.contrast_figure(RUNS)
    controls = [t for t in fig.data if t.name.startswith("control, seed") and t.showlegend is not False]
    assert [t.name for t in controls] == [f"control, seed {s}" for s in range(6)]
    assert len({(t.line.color, t.line.dash) for t in controls}) == 6
    seeds = [t for t in fig.data if ", seed " in t.name and t.name.endswith("Sink₁") and t.showlegend is not False]
    assert sum(t.name.startswith("lr 5e-4, seed") for t in seeds) == 4
    assert len({(t.line.color, t.line.dash) for t in seeds}) == len(seeds)
    sweep = ["control", "control_seed1", "control_seed2", "control_seed3", "control_seed4", "control_seed5",
             "control_data_100mb",
             "control_data_100mb_seed1", "control_data_100mb_seed2", "control_data_50mb", "control_data_50mb_seed1",
             "control_data_25mb", "control_data_25mb_seed1"]
    fig = figures.data_amount_figure({name: RUNS[name] for name in sweep})
    colours = [t.line.color for t in fig.data if t.name.endswith("tokens of data")]
    assert len(colours) == len(set(colours)) == 13


def _data_sweep_figure():
    """The notebook's data sweep: every committed seed of the whole corpus and of 100, 50 and 25 MB (13 runs)."""
    from sinkviz.lab.results import committed_seeds

    names = ("control", "control_data_100mb", "control_data_50mb", "control_data_25mb")
    sweep = {f"{name}, seed {seed}": run for name in names for seed, run in committed_seeds(name, RUNS)}
    assert len(sweep) >= 13
    return figures.data_amount_figure(sweep)


@pytest.mark.parametrize("make, max_band", [(lambda: figures.contrast_figure(RUNS), 80), (_data_sweep_figure, 120)],
                         ids=["contrasts", "data_sweep"])
def test_lab_figure_captions_sit_under_their_legends_in_the_render(tmp_path, make, max_band):
    """Rendered at its own size and style (``sinkviz.export``, 96 dpi: one pixel a layout pixel), the contrast
    figure's and the data sweep's caption starts below the legend's last row (no legend ink in the 6 pixel rows above
    it), less than ``max_band`` pixels below it (no wide empty band where the legend's height was overestimated: the
    sweep's long entry names are estimated a row too many), and stays inside the image: no caption ink in the
    right-most 15 pixel columns or the last pixel row. A caption placed by a wrong legend estimate (the sweep's was
    fixed, and 13 runs printed their legend over it), or a caveat too long for one line, fails here."""
    from PIL import Image

    from sinkviz.export import export
    from sinkviz.plots.style import NOTE_NAME

    fig = make()
    png = export(fig, tmp_path / "figure.png", width=None, style=None, dpi=96)
    ink = np.asarray(Image.open(png).convert("L")) < 200
    height, width = ink.shape
    assert (height, width) == (fig.layout.height, fig.layout.width)
    margin = fig.layout.margin
    plot_px = height - margin.t - margin.b
    caption = next(a for a in fig.layout.annotations if a.name == NOTE_NAME)
    caption_top = round(margin.t + plot_px * (1 - caption.y) - caption.yshift)
    legend_top = round(margin.t + plot_px * (1 - fig.layout.legend.y))
    inked = ink.any(axis=1)
    legend_rows = np.flatnonzero(inked[legend_top:caption_top - 6]) + legend_top
    assert legend_rows.size, "no legend drawn above the caption"
    assert not inked[caption_top - 6:caption_top].any(), "the legend reaches into the caption"
    assert caption_top - legend_rows[-1] < max_band, f"{caption_top - legend_rows[-1]} empty pixels above the caption"
    assert inked[caption_top:].any() and not inked[-1], "caption missing or cut at the bottom"
    assert not ink[caption_top:, -15:].any(), "a caption line runs to the right edge"
