"""The lab's training loop: plain torch, resumable, checkpoints as safetensors.

A run is described by a JSON config (``sinkviz/lab/configs/*.json``; see ``RunConfig``) and lives in
an output folder::

    OUT/config.json                    the resolved config (a resume must match it)
    OUT/results.json                   status + per-evaluation metrics (small; the lab notebook reads it)
    OUT/checkpoints/step_000500/       save_pretrained (model.safetensors, config.json), tokenizer,
                                       optimizer.safetensors + trainer_state.json

Setup as Gu et al. 2025, §4, and their released pretraining code (sail-sg/Attention-Sink), scaled down: AdamW(β = 0.9, 0.95) on all parameters with
decoupled weight decay, linear warm-up then a constant learning rate (the official ``min_lr == lr``;
``schedule: "cosine"`` decays to ``min_lr`` instead), gradient clipping at 1.0, bf16 autocast on GPU and
fp32 on CPU. Every checkpoint folder is written under a temporary name and renamed, so a killed run
leaves only complete checkpoints; a rerun with the same folder resumes from the newest one, and a run
whose results say ``"finished"`` is never overwritten.

Speed (``compile``): on CUDA the forward and backward pass run under ``torch.compile`` (mode
``CUDA_COMPILE_MODE``, the fastest measured by ``benchmarks/bench_lab_throughput.py``), with fused AdamW and
the corpus resident on the GPU; on CPU and MPS the model runs eagerly. Evaluation always runs the eager model.

Resume is exact on one device: a checkpoint holds the fp32 weights, the optimiser state, the step (batches
are a function of (seed, step)), the running training-loss sum and the RNG states, and a resumed run writes
the same history as an uninterrupted one (tested on the CPU). On CUDA, by default, two uninterrupted runs of one config
and seed already differ from the first evaluation after step 0 (two H200 runs of ``control_k_bias_seed1``: up to 7.7
points of Sink_* apart mid-training; ``benchmarks/results/lab_repeat_control_k_bias_seed1.json``), so there a resumed
run can match an uninterrupted one only as closely as two runs do. ``train.deterministic`` (every committed run trained
without it) makes CUDA runs, and a run resumed from a checkpoint, repeat to the bit at a lower rate
(``benchmarks/results/lab_repeat_switch.json``). ``sinkviz.lab.carry`` packs a checkpoint small enough to travel between
machines (its optimiser moments rounded to bf16; the weights stay exact).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch
import transformers
from safetensors.torch import load_file, save_file

from sinkviz._files import atomic_folder, write_json
from sinkviz._version import made_by
from sinkviz.lab.data import Batcher, Corpus, DataSpec, prepare_corpus
from sinkviz.lab.evaluate import EvalSpec, evaluate, probe_ids
from sinkviz.lab.model import SinkLabForCausalLM, count_parameters, model_from_size
from sinkviz.models import resolve_device

CONFIG_DIR = Path(__file__).parent / "configs"
RESULTS_VERSION = 1
#: ``torch.compile`` modes a run accepts; "none" runs eagerly.
COMPILE_MODES = ("none", "default", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
#: The mode ``compile="auto"`` uses on CUDA: the fastest in benchmarks/results/lab_throughput.json.
CUDA_COMPILE_MODE = "default"


class RunExistsError(RuntimeError):
    """The output folder holds a finished run, or a run of a different config."""


# ------------------------------------------------------------------------------------------------
# config


MODEL_FIELDS = {"hidden_size", "num_layers", "num_heads", "intermediate_size", "max_positions", "attn_op",
                "attn_norm", "bias_mode", "bias_per_head", "pos_encoding", "norm_position", "sliding_window",
                "prefix_length"}
TRAIN_FIELDS = {"steps", "batch_size", "seq_len", "lr", "min_lr", "warmup", "schedule", "weight_decay",
                "grad_clip", "betas", "weights", "deterministic"}
#: ``train.weights``: "fp32" (master weights and AdamW state in fp32, bf16 autocast on GPU: every committed run) or
#: "bf16" (weights and AdamW state in bf16, no fp32 copy: faster, see ``lab_throughput_bf16.json``).
WEIGHT_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


@dataclass
class RunConfig:
    """A lab experiment. ``paper`` says which figure/table row it scales down."""

    name: str
    model: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    eval: dict[str, Any] = field(default_factory=dict)
    checkpoint: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    paper: str = ""
    seed: int = 0

    def __post_init__(self):
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name):
            raise ValueError(f"Run name {self.name!r}: use letters, digits, '_', '-' and '.' only.")
        for block, allowed in (("model", MODEL_FIELDS), ("train", TRAIN_FIELDS)):
            unknown = set(getattr(self, block)) - allowed
            if unknown:
                raise ValueError(f"Unknown {block} field(s) {sorted(unknown)} in run {self.name!r}; "
                                 f"allowed: {sorted(allowed)}.")
        missing = {"hidden_size", "num_layers", "num_heads"} - set(self.model)
        if missing:
            raise ValueError(f"Run {self.name!r}: model needs {sorted(missing)}.")
        self.train = {"steps": 1000, "batch_size": 32, "seq_len": 256, "lr": 4e-4, "min_lr": None, "warmup": 100,
                      "schedule": "constant", "weight_decay": 0.1, "grad_clip": 1.0, "betas": [0.9, 0.95],
                      **self.train}
        if self.train["schedule"] not in ("constant", "cosine"):
            raise ValueError(f"train.schedule must be 'constant' or 'cosine'; got {self.train['schedule']!r}.")
        # "weights" has no entry among the defaults above, so configs written before it keep their to_dict (and
        # their stored runs still resume); absent means "fp32".
        if self.train.get("weights", "fp32") not in WEIGHT_DTYPES:
            raise ValueError(f"train.weights must be one of {sorted(WEIGHT_DTYPES)}; got {self.train['weights']!r}.")
        if not isinstance(self.train.get("deterministic", False), bool):
            raise ValueError(f"train.deterministic must be true or false; got {self.train['deterministic']!r}.")
        unknown = set(self.checkpoint) - {"every", "keep_last"}
        if unknown:
            raise ValueError(f"Unknown checkpoint field(s) {sorted(unknown)}; allowed: ['every', 'keep_last'].")
        DataSpec.from_dict(self.data)
        EvalSpec.from_dict(self.eval)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        known = set(cls.__dataclass_fields__) | {"comment"}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"Unknown config field(s) {sorted(unknown)}; allowed: {sorted(known)}.")
        return cls(**{k: v for k, v in d.items() if k != "comment"})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # derived -----------------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        return int(self.train["steps"])

    def eval_steps(self) -> list[int]:
        """Evaluation steps: ``eval.steps`` if given, else 0, a log-spaced early grid (sink/frame emergence)
        and every ``eval.every`` (default steps/10); always the last step."""
        steps = self.steps
        if "steps" in self.eval:
            chosen = {int(s) for s in self.eval["steps"]}
        else:
            every = int(self.eval.get("every", max(steps // 10, 1)))
            early = {0, 5, 10, 20, 50, 100, 200, 500, 1000}
            chosen = early | set(range(0, steps + 1, every))
        return sorted(s for s in chosen | {steps} if 0 <= s <= steps)

    def checkpoint_steps(self) -> list[int]:
        every = int(self.checkpoint.get("every", max(self.steps // 4, 1)))
        return sorted({s for s in range(every, self.steps + 1, every)} | {self.steps})

    def loss_start(self) -> int:
        """Predictions inside a bidirectional prefix see their target: skip the first p − 1 (paper code
        ``--ignore_loss p-1``)."""
        return max(int(self.model.get("prefix_length", 0)) - 1, 0)


def load_config(name_or_path: str | os.PathLike) -> RunConfig:
    """A config by file path or by name from sinkviz/lab/configs (``sinkviz lab list``)."""
    path = Path(name_or_path)
    if not path.is_file():
        candidate = CONFIG_DIR / f"{name_or_path}.json"
        if not candidate.is_file():
            names = ", ".join(list_configs())
            raise FileNotFoundError(f"No lab config {str(name_or_path)!r}: give a JSON path or one of: {names}.")
        path = candidate
    return RunConfig.from_dict(json.loads(path.read_text()))


def list_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


# ------------------------------------------------------------------------------------------------
# helpers


def learning_rate(step: int, train: dict[str, Any]) -> float:
    """Linear warm-up over ``warmup`` steps, then constant (default) or cosine to ``min_lr``."""
    lr, warmup, total = float(train["lr"]), int(train["warmup"]), int(train["steps"])
    if warmup and step < warmup:
        return lr * (step + 1) / warmup
    if train["schedule"] == "constant":
        return lr
    min_lr = float(train["min_lr"] if train["min_lr"] is not None else lr / 10)
    progress = (step - warmup) / max(total - warmup, 1)
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * min(progress, 1.0)))


def device_name(device: torch.device) -> str:
    """A readable name of the device a run trained on (recorded in its results)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return f"Apple MPS ({platform.machine()})"
    return f"{platform.processor() or platform.machine()} CPU ({os.cpu_count()} cores)"


#: The cuBLAS workspace setting that makes cuBLAS deterministic (NVIDIA's cuBLAS docs, "Results reproducibility").
CUBLAS_DETERMINISTIC = ":4096:8"
_CUBLAS_DETERMINISTIC_VALUES = (":4096:8", ":16:8")


def set_cublas_deterministic() -> None:
    """Set ``CUBLAS_WORKSPACE_CONFIG`` for ``train.deterministic`` unless it already holds a deterministic value.
    cuBLAS reads it once, when the process first uses CUDA: call this before anything touches the GPU (a job
    that names its device first, for instance)."""
    if os.environ.get("CUBLAS_WORKSPACE_CONFIG") not in _CUBLAS_DETERMINISTIC_VALUES:
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_DETERMINISTIC


@contextlib.contextmanager
def deterministic_kernels(enabled: bool, device: torch.device) -> Iterator[None]:
    """Within the block, torch picks deterministic kernels (``train.deterministic``); the previous setting returns
    after it.

    Sets ``torch.use_deterministic_algorithms(True)``, cuDNN deterministic without autotuning, inductor's
    deterministic mode and, on CUDA, ``CUBLAS_WORKSPACE_CONFIG=:4096:8``. cuBLAS reads that variable once, when a
    process first uses it, so on CUDA the switch refuses a process that has already started CUDA without it (set it
    in the environment, or start a fresh process). Measured for ``control_k_bias_seed1`` over 2,000 steps
    (``benchmarks/results/lab_repeat_switch.json``, ``lab_repeat_default_h200.json``, ``lab_repeat_h100.json``): with
    it two runs, and a run stopped and resumed from its checkpoint, end with identical weights and evaluations, at
    0.66× the default training rate on one H200 (0.61× on one H100); without it two runs differ from the first
    evaluation after step 0.
    """
    if not enabled:
        yield
        return
    if device.type == "cuda" and os.environ.get("CUBLAS_WORKSPACE_CONFIG") not in _CUBLAS_DETERMINISTIC_VALUES:
        if torch.cuda.is_initialized():
            raise RuntimeError(
                "train.deterministic needs CUBLAS_WORKSPACE_CONFIG=:4096:8 before CUDA starts, and this process has "
                "already used CUDA. Run `export CUBLAS_WORKSPACE_CONFIG=:4096:8` before starting Python (or the "
                "kernel), or train in a fresh process (`sinkviz lab run`, `python -m sinkviz.lab.job`).")
        set_cublas_deterministic()
    import torch._inductor.config as inductor_config

    was_deterministic, was_warn_only = (torch.are_deterministic_algorithms_enabled(),
                                        torch.is_deterministic_algorithms_warn_only_enabled())
    cudnn = torch.backends.cudnn
    cudnn_was = cudnn.deterministic, cudnn.benchmark
    inductor_was = getattr(inductor_config, "deterministic", None)  # None: this torch's inductor has no such mode
    torch.use_deterministic_algorithms(True)
    cudnn.deterministic, cudnn.benchmark = True, False
    if inductor_was is not None:
        inductor_config.deterministic = True
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was_deterministic, warn_only=was_warn_only)
        cudnn.deterministic, cudnn.benchmark = cudnn_was
        if inductor_was is not None:
            inductor_config.deterministic = inductor_was


def saved_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, folder) of every checkpoint a run wrote (``RUN/checkpoints/step_NNNNNN`` holding its
    ``trainer_state.json``), sorted by step; empty when there is none."""
    found = []
    for p in (Path(run_dir) / "checkpoints").glob("step_*"):
        m = re.fullmatch(r"step_(\d+)", p.name)
        if m and (p / "trainer_state.json").is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def resolve_compile(mode: str, device: torch.device) -> str:
    """The ``torch.compile`` mode a run uses: ``"auto"`` is ``CUDA_COMPILE_MODE`` on CUDA and ``"none"``
    elsewhere (compiling on CPU takes longer than the lab's CPU runs)."""
    if mode == "auto":
        return CUDA_COMPILE_MODE if device.type == "cuda" else "none"
    if mode not in COMPILE_MODES:
        raise ValueError(f"compile must be 'auto' or one of {COMPILE_MODES}; got {mode!r}.")
    return mode


def _save_optimizer(optimizer: torch.optim.Optimizer, folder: Path) -> None:
    state = optimizer.state_dict()
    tensors = {}
    for index, entries in state["state"].items():
        for key, value in entries.items():
            tensors[f"{index}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    save_file(tensors, str(folder / "optimizer.safetensors"))
    (folder / "optimizer_groups.json").write_text(json.dumps(state["param_groups"]))


def _load_optimizer(optimizer: torch.optim.Optimizer, folder: Path, device: torch.device) -> None:
    tensors = load_file(str(folder / "optimizer.safetensors"))
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value if key == "step" else value.to(device)
    groups = json.loads((folder / "optimizer_groups.json").read_text())
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def save_checkpoint(out: Path, step: int, model, optimizer, tokenizer_dir: Path | None, extra: dict[str, Any],
                    keep_last: int | None = None, state_tensors: dict[str, torch.Tensor] | None = None) -> Path:
    """Write checkpoints/step_N atomically (temp folder + rename); prune to ``keep_last`` if given.
    ``state_tensors`` (RNG states, the running loss sum) go to ``trainer_state.safetensors``."""
    final = out / "checkpoints" / f"step_{step:06d}"
    with atomic_folder(final, replace=True) as staging:
        model.save_pretrained(staging, safe_serialization=True)
        if tokenizer_dir is not None and tokenizer_dir.is_dir():
            for f in tokenizer_dir.iterdir():
                shutil.copy2(f, staging / f.name)
        _save_optimizer(optimizer, staging)
        if state_tensors:
            save_file({k: v.detach().cpu().contiguous() for k, v in state_tensors.items()},
                      str(staging / "trainer_state.safetensors"))
        (staging / "trainer_state.json").write_text(json.dumps({"step": step, **extra}, indent=1))
    if keep_last:
        for _, p in saved_checkpoints(out)[:-keep_last]:
            shutil.rmtree(p, ignore_errors=True)
    return final


# ------------------------------------------------------------------------------------------------
# the run


#: Training reads the loss back from the device (one host sync) every this many steps.
SYNC_EVERY = 50
#: What a run's results record about its corpus (from the corpus's meta.json).
DATA_FIELDS = ("source", "source_description", "licence", "tokenizer", "vocab_size", "train_tokens",
               "valid_tokens", "distinct_tokens", "documents", "characters", "files", "build_seconds")


def build_model(config: RunConfig, vocab_size: int) -> SinkLabForCausalLM:
    m = dict(config.model)
    return model_from_size(
        vocab_size, hidden_size=m.pop("hidden_size"), num_layers=m.pop("num_layers"), num_heads=m.pop("num_heads"),
        intermediate_size=m.pop("intermediate_size", None),
        max_positions=m.pop("max_positions", max(config.train["seq_len"], 64) + 1), **m,
    )


def _as_config(config: RunConfig | str | os.PathLike, steps: int | None) -> RunConfig:
    """A RunConfig from a config or its name/path, with ``train.steps`` overridden when ``steps`` is given."""
    if not isinstance(config, RunConfig):
        config = load_config(config)
    if steps is not None:
        config.train["steps"] = int(steps)
    return config


def _previous_results(out: Path, config: RunConfig) -> dict[str, Any] | None:
    """The results already in ``out`` (None if none); refuses a finished run or a run of another config."""
    previous = None
    results_path = out / "results.json"
    if results_path.is_file():
        previous = json.loads(results_path.read_text())
        if previous.get("status") == "finished":
            raise RunExistsError(f"{out} holds a finished run ({previous.get('name')}, {previous.get('step')} steps); "
                                 "refusing to overwrite it. Choose another --out folder.")
    if (out / "config.json").is_file():
        stored = json.loads((out / "config.json").read_text())
        if stored != config.to_dict():
            raise RunExistsError(f"{out} holds a run of a different config; use another --out folder "
                                 "(or the same config to resume).")
    return previous


class _Training:
    """One run's model, optimiser, batches and history, and the steps of its loop."""

    def __init__(self, config: RunConfig, out: Path, device: torch.device, corpus: Corpus, compile: str = "auto",
                 fused_loss: bool = False, eager_rotary: bool = False):
        """Two throughput options the benchmark measures (runs keep the path every committed result used):
        ``fused_loss``, the chunked LM-head + cross-entropy of :mod:`sinkviz.lab.loss`; ``eager_rotary``, the
        rotary cos/sin computed outside the compiled graph (``SinkLabModel._rotary_outside_compile``). Measured on
        one H200 (``benchmarks/results/lab_throughput_options.json``): ``eager_rotary`` +7.7 % for the 60M-class
        model, within the timing spread for the 8.1M model the runs train; ``fused_loss`` no faster. The config's
        ``train.weights`` sets the parameters' dtype, and with it AdamW's state: "fp32" (absent: every committed run)
        or "bf16" (no fp32 master copy; the 60M-class model's fastest path, ``lab_throughput_bf16.json``)."""
        self.config, self.out, self.device, self.corpus = config, out, device, corpus
        self.fused_loss = fused_loss
        self.compile_mode = resolve_compile(compile, device)
        self.hyper = config.train
        spec = DataSpec.from_dict(config.data)
        self.eval_spec = EvalSpec.from_dict(config.eval)
        valid_seed = 0 if self.eval_spec.valid_windows == "fixed" else config.seed
        self.batcher = Batcher(corpus, spec, self.hyper["seq_len"], device, config.seed, valid_seed=valid_seed)
        self.eval_steps = set(config.eval_steps())
        self.checkpoint_steps = set(config.checkpoint_steps())
        self.loss_start = config.loss_start()
        self.tokens_per_step = self.hyper["batch_size"] * self.hyper["seq_len"]
        self.autocast = torch.bfloat16 if device.type == "cuda" else None
        self.weights = self.hyper.get("weights", "fp32")
        self.model = build_model(config, corpus.vocab_size).to(device)
        if self.weights != "fp32":
            for param in self.model.parameters():  # buffers stay fp32: bf16 rotary frequencies would bend the angles
                param.data = param.data.to(WEIGHT_DTYPES[self.weights])
        self.model.model.eager_rotary = eager_rotary
        fused = {"fused": True} if device.type == "cuda" else {}
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.hyper["lr"],
                                           betas=tuple(self.hyper["betas"]),
                                           weight_decay=self.hyper["weight_decay"], **fused)
        self.step_fn = self.model  # the compiled model after resume() when compiling
        self.start = 0
        self.resumes: list[dict[str, Any]] = []
        self.history: list[dict[str, Any]] = []
        self.loss_sum = torch.zeros((), device=device)  # summed on the device: no host sync per step
        self.loss_count = 0
        self.eval_seconds = 0.0
        self.started = time.perf_counter()  # reset when the loop starts

    # setup -------------------------------------------------------------------------------------
    def resume(self, previous: dict[str, Any] | None) -> None:
        """Load the newest checkpoint of ``out`` (if any) and the history up to it; record the config."""
        checkpoints = saved_checkpoints(self.out)
        if checkpoints:
            self.start, folder = checkpoints[-1]
            state = json.loads((folder / "trainer_state.json").read_text())
            corpus_hash = self.corpus.meta.get("sha256", {}).get("train")
            if state.get("corpus_sha256") not in (None, corpus_hash):
                raise RunExistsError(f"{folder} was trained on another corpus (train tokens sha256 "
                                     f"{state['corpus_sha256'][:12]}…, this machine built {str(corpus_hash)[:12]}…); "
                                     "refusing to resume on different data.")
            loaded = SinkLabForCausalLM.from_pretrained(folder, dtype=torch.float32)
            self.model.load_state_dict(loaded.state_dict())
            _load_optimizer(self.optimizer, folder, self.device)
            self._load_state_tensors(folder)
            self.history = [h for h in (previous or {}).get("history", []) if h["step"] <= self.start]
            self.resumes = [r for r in (previous or {}).get("resumes", []) if r["step"] < self.start]
            self.resumes.append({"step": self.start, "optimizer_moments": state.get("optimizer_moments", "float32"),
                                 "device": device_name(self.device)})
        write_json(self.out / "config.json", self.config.to_dict())
        # SDPA (flash / memory-efficient kernels) on GPU for softmax; on CPU its backward is ~10x slower than eager.
        fast = self.model.config.attn_op == "softmax" and self.device.type == "cuda"
        self.model.set_attn_implementation("sdpa" if fast else "eager")
        self.model.train()
        if self.compile_mode != "none":
            self.step_fn = torch.compile(self.model, mode=None if self.compile_mode == "default" else self.compile_mode)

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        """What a checkpoint needs besides weights and optimiser to continue exactly: the running
        training-loss sum since the last evaluation and the RNG states (no switch draws from them today;
        kept so that one that does resumes exactly too)."""
        tensors = {"loss_sum": self.loss_sum.detach().float().reshape(1),
                   "loss_count": torch.tensor([self.loss_count], dtype=torch.int64),
                   "rng_cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            tensors["rng_cuda"] = torch.cuda.get_rng_state(self.device)
        return tensors

    def _load_state_tensors(self, folder: Path) -> None:
        path = folder / "trainer_state.safetensors"
        if not path.is_file():  # checkpoints written before the loss sum was saved
            return
        tensors = load_file(str(path))
        self.loss_sum = tensors["loss_sum"].reshape(()).to(self.device)
        self.loss_count = int(tensors["loss_count"][0])
        torch.set_rng_state(tensors["rng_cpu"])
        if self.device.type == "cuda" and "rng_cuda" in tensors:
            torch.cuda.set_rng_state(tensors["rng_cuda"], self.device)

    def new_results(self) -> dict[str, Any]:
        """The results document of this run before its first evaluation."""
        config = self.config
        return {
            "version": RESULTS_VERSION, "name": config.name, "description": config.description,
            "paper": config.paper, "config": config.to_dict(), "status": "running", "step": self.start,
            "device": device_name(self.device), "precision": self.precision(),
            "torch": torch.__version__, "transformers": transformers.__version__,
            "sinkviz": made_by(),
            "parameters": count_parameters(self.model),
            "data": {k: self.corpus.meta[k] for k in DATA_FIELDS if k in self.corpus.meta},
            "tokens_per_step": self.tokens_per_step,
            "history": self.history, "resumed_from": self.start or None, "resumes": self.resumes,
            "compile": self.compile_mode, "deterministic": torch.are_deterministic_algorithms_enabled(),
        }

    def precision(self) -> str:
        """How the run computes: "bf16 weights and AdamW state", "bf16 autocast" (fp32 weights) or "fp32"."""
        if self.weights == "bf16":
            return "bf16 weights and AdamW state" + (", bf16 autocast" if self.autocast else "")
        return "bf16 autocast" if self.autocast else "fp32"

    # the loop ----------------------------------------------------------------------------------
    def train_step(self, step: int) -> torch.Tensor:
        """One optimiser step on batch ``step``; returns the (device) loss."""
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(step, self.hyper)
        ids = self.batcher.batch("train", step, self.hyper["batch_size"])
        if self.compile_mode in ("reduce-overhead", "max-autotune"):
            torch.compiler.cudagraph_mark_step_begin()  # the previous step's graph outputs are consumed
        with torch.autocast(self.device.type, dtype=self.autocast, enabled=self.autocast is not None):
            loss = self.step_fn(ids, labels=ids, loss_start=self.loss_start, fused_loss=self.fused_loss).loss
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.hyper["grad_clip"])
        self.optimizer.step()
        self.loss_sum += loss.detach().float()
        self.loss_count += 1
        return loss.detach()

    def record(self, step: int, scheduled: bool = True) -> None:
        """Evaluate at ``step`` (once) and append the entry to the history. A scheduled evaluation resets the
        mean training loss; an unscheduled one (a run stopped at its time budget) is marked and leaves it
        running, so the scheduled entries of a stopped-and-resumed run equal those of an uninterrupted run."""
        if any(h["step"] == step for h in self.history):
            return
        t_eval = time.perf_counter()
        entry = {"step": step, "tokens_seen": step * self.tokens_per_step,
                 "train_loss": round(float(self.loss_sum) / self.loss_count, 4) if self.loss_count else None,
                 "lr": learning_rate(max(step - 1, 0), self.hyper)}
        if not scheduled:
            entry["unscheduled"] = True
        entry.update(evaluate(self.model, self.batcher, self.eval_spec, batch_size=self.hyper["batch_size"],
                              autocast=self.autocast, loss_start=self.loss_start))
        entry["eval_seconds"] = round(time.perf_counter() - t_eval, 2)
        entry["wall_seconds"] = round(time.perf_counter() - self.started, 1)
        self.history.append(entry)
        if scheduled:
            self.loss_sum, self.loss_count = torch.zeros((), device=self.device), 0
        self.eval_seconds += time.perf_counter() - t_eval

    def checkpoint(self, step: int, results: dict[str, Any]) -> None:
        """Evaluate (if not yet), save checkpoints/step_N and the results so far."""
        self.record(step, scheduled=step in self.eval_steps or step in self.checkpoint_steps)
        save_checkpoint(self.out, step, self.model, self.optimizer, self.corpus.folder / "tokenizer",
                        {"name": self.config.name, "tokens_seen": step * self.tokens_per_step,
                         "corpus_sha256": self.corpus.meta.get("sha256", {}).get("train")},
                        self.config.checkpoint.get("keep_last"), self._state_tensors())
        results.update(step=step, history=self.history, resumes=self.resumes)
        write_json(self.out / "results.json", results)

    def report(self, step: int, loss: float, bar, progress_file: str | os.PathLike | None) -> None:
        """Show the loss on the progress bar and write the progress file."""
        if bar is not None:
            bar.set_postfix(loss=f"{loss:.3f}")
        if progress_file is not None:
            write_json(progress_file, {
                "name": self.config.name, "step": step, "seconds": round(time.perf_counter() - self.started, 2),
                "eval_seconds": round(self.eval_seconds, 2), "loss": round(loss, 4)})

    def loop(self, results: dict[str, Any], *, progress: bool, max_minutes: float | None,
             progress_file: str | os.PathLike | None, profile_file: str | os.PathLike | None = None) -> tuple[int, str]:
        """Train from ``start`` to the configured steps; returns (last step, status). ``profile_file`` gets the
        torch profiler's table (device time per kernel) of ``PROFILE_STEPS`` steps, from the 30th step on."""
        steps = self.config.steps
        self.started = time.perf_counter()
        deadline = self.started + 60 * max_minutes if max_minutes else None
        bar = _progress_bar(self.config.name, steps, self.start) if progress else None
        step, status = self.start, "finished"
        if step in self.eval_steps:
            self.record(step)
        profiler = None
        while step < steps:
            if profile_file is not None and step - self.start in (30, 30 + PROFILE_STEPS):
                profiler = _profile(profiler, profile_file, PROFILE_STEPS)
            loss = self.train_step(step)
            step += 1
            if step % SYNC_EVERY == 0 or step == steps:
                current = float(loss)
                if not math.isfinite(current):
                    status = "diverged"
                    results["diverged_at"] = step
                    break
                self.report(step, current, bar, progress_file)
            if bar is not None:
                bar.update(1)
            if step in self.eval_steps:
                self.record(step)
            out_of_time = deadline is not None and time.perf_counter() > deadline and step < steps
            if step in self.checkpoint_steps or out_of_time:
                self.checkpoint(step, results)
            if out_of_time:
                status = "stopped"
                break
        if bar is not None:
            bar.close()
        return step, status


#: Steps the ``profile_file`` option records.
PROFILE_STEPS = 10


def _profile(profiler, path: str | os.PathLike, steps: int):
    """Start a torch profiler (``profiler`` None) or stop it and write its table of device time per kernel."""
    if profiler is None:
        activities = [torch.profiler.ProfilerActivity.CPU]
        if torch.cuda.is_available():
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        profiler = torch.profiler.profile(activities=activities)
        profiler.__enter__()
        return profiler
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    profiler.__exit__(None, None, None)
    sort = "cuda_time_total" if torch.cuda.is_available() else "cpu_time_total"
    write_json(Path(path).with_suffix(".json"), {"steps": steps, "table": profiler.key_averages().table(
        sort_by=sort, row_limit=60, max_name_column_width=90)})
    return None


def _progress_bar(name: str, total: int, initial: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=name, unit="step", dynamic_ncols=True)


def run(config: RunConfig | str | os.PathLike, out: str | os.PathLike | None = None, *, device: str | None = "auto",
        steps: int | None = None, data_dir: str | os.PathLike | None = None, progress: bool = True,
        max_minutes: float | None = None, progress_file: str | os.PathLike | None = None,
        compile: str = "auto", profile_file: str | os.PathLike | None = None) -> dict[str, Any]:
    """Train (or resume) one run; returns the results dict (also written to OUT/results.json).

    ``steps`` overrides ``train.steps`` (e.g. a quick look); ``max_minutes`` stops early after a
    checkpoint, leaving the run resumable (status ``"stopped"``). ``progress_file`` gets a small JSON
    every 50 steps (step, seconds, seconds spent evaluating, loss), for a driver that watches throughput.
    ``device`` follows :func:`sinkviz.models.resolve_device` ('auto': cuda, then mps, then cpu).
    ``compile``: "auto" (``CUDA_COMPILE_MODE`` on CUDA, eager elsewhere), "none" or a ``torch.compile`` mode.
    The config's ``train.deterministic`` (absent: false) trains under :func:`deterministic_kernels`.
    """
    config = _as_config(config, steps)
    out = Path(out) if out is not None else Path("lab_runs") / config.name
    dev = resolve_device(device)
    torch.manual_seed(config.seed)
    previous = _previous_results(out, config)
    spec = DataSpec.from_dict(config.data)
    corpus = prepare_corpus(spec.source, spec.tokenizer, data_dir, max_documents=spec.max_documents,
                            max_bytes=spec.max_bytes, quiet=not progress)
    with deterministic_kernels(config.train.get("deterministic", False), dev):
        training = _Training(config, out, dev, corpus, compile)
        probe_ids(training.batcher, training.eval_spec)  # a corpus too small for the probes fails before OUT is written
        training.resume(previous)
        results = training.new_results()
        step, status = training.loop(results, progress=progress, max_minutes=max_minutes,
                                     progress_file=progress_file, profile_file=profile_file)
    elapsed = time.perf_counter() - training.started
    results.update(status=status, step=step, history=training.history, resumes=training.resumes, seconds=round(elapsed, 1),
                   eval_seconds=round(training.eval_seconds, 1),
                   tokens_per_second=round((step - training.start) * training.tokens_per_step / max(elapsed, 1e-9)),
                   train_tokens_per_second=round((step - training.start) * training.tokens_per_step
                                                 / max(elapsed - training.eval_seconds, 1e-9)))
    write_json(out / "results.json", results)
    return results


def load_or_run(config: RunConfig | str | os.PathLike, out: str | os.PathLike, **kwargs) -> dict[str, Any]:
    """The results of the finished run in ``out`` if it is this config's, else ``run(config, out, **kwargs)``
    (which resumes an unfinished one). For notebooks: re-executing never retrains a finished run."""
    config = _as_config(config, kwargs.pop("steps", None))
    results_path = Path(out) / "results.json"
    if results_path.is_file():
        done = json.loads(results_path.read_text())
        if done.get("status") == "finished" and done.get("config") == config.to_dict():
            return done
    return run(config, out, **kwargs)
