"""Carry a lab run between GPU jobs: its newest checkpoint packed into a few files of bounded size, and back.

A GPU job here starts on a bare machine, lasts at most ten minutes and returns at most eight files of 16 MiB
(64 MiB together), and the next job takes at most 64 MiB of files along. A full checkpoint of the 8.1M-parameter
model is 97 MB (fp32 weights and two fp32 AdamW moments), so ``pack`` writes:

* the weights exactly (fp32), the AdamW ``step`` counters exactly, the trainer state (step, running loss sum,
  RNG states), the tokenizer and the run's ``config.json`` / ``results.json``;
* the AdamW moments (``exp_avg``, ``exp_avg_sq``) rounded to bf16 (relative error ≤ 2⁻⁹): the one thing a carried
  resume does not reproduce bit for bit. The resumed run records ``"optimizer_moments": "bfloat16 (carried)"``
  at its seam (``results["resumes"]``), so the loss curve can be read across it.

Every tensor is split into byte planes (the sign/exponent bytes of trained weights compress well, the low
mantissa bytes do not) and each plane is zlib-compressed when that makes it smaller. The container is one tar
stream cut into ``NAME.carry.000``, ``.001``, … of at most ``max_file_bytes``; its manifest holds the sha256 of
every member, checked on ``unpack``.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from sinkviz._files import atomic_folder, atomic_write

FORMAT = 1
MAX_FILE_BYTES = 16 * 2**20
#: AdamW state entries stored in bf16 in a carry pack (everything else is exact).
ROUNDED_MOMENTS = ("exp_avg", "exp_avg_sq")
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "int64": torch.int64,
           "uint8": torch.uint8, "int32": torch.int32}


class CarryError(ValueError):
    """A carry pack that is missing, incomplete or corrupt, with what to do about it."""


def _encode_tensor(tensor: torch.Tensor, blob: io.BytesIO) -> dict[str, Any]:
    """Append ``tensor``'s byte planes to ``blob`` (each zlib-compressed if that is smaller); return its index."""
    t = tensor.detach().cpu().contiguous()
    raw = t.reshape(-1).view(torch.uint8).numpy().reshape(-1, t.element_size())
    planes = []
    for k in range(t.element_size()):
        plane = np.ascontiguousarray(raw[:, k]).tobytes()
        packed = zlib.compress(plane, 6)
        use = packed if len(packed) < len(plane) else plane
        planes.append({"offset": blob.tell(), "length": len(use), "zlib": use is packed})
        blob.write(use)
    return {"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape), "planes": planes}


def _decode_tensor(index: dict[str, Any], data: bytes) -> torch.Tensor:
    planes = []
    for p in index["planes"]:
        chunk = data[p["offset"]:p["offset"] + p["length"]]
        planes.append(np.frombuffer(zlib.decompress(chunk) if p["zlib"] else chunk, dtype=np.uint8))
    raw = np.stack(planes, axis=1).reshape(-1).copy()
    return torch.from_numpy(raw).view(_DTYPES[index["dtype"]]).reshape(index["shape"])


def newest_checkpoint(run_dir: Path) -> tuple[int, Path]:
    from sinkviz.lab.train import saved_checkpoints

    found = saved_checkpoints(run_dir)
    if not found:
        raise CarryError(f"{run_dir} holds no checkpoint to carry; run the lab there first.")
    return found[-1]


def pack(run_dir: str | Path, dest: str | Path, prefix: str, *, max_file_bytes: int = MAX_FILE_BYTES) -> list[Path]:
    """Pack the newest checkpoint of ``run_dir`` (and its config/results) into ``dest/PREFIX.carry.NNN`` files of
    at most ``max_file_bytes``; returns their paths. Older shards of the same prefix in ``dest`` are removed."""
    run_dir, dest = Path(run_dir), Path(dest)
    step, folder = newest_checkpoint(run_dir)
    blob = io.BytesIO()
    tensors: dict[str, Any] = {}
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        model_metadata = f.metadata()
    for key, value in load_file(str(folder / "model.safetensors")).items():
        tensors[f"model/{key}"] = _encode_tensor(value, blob)
    for key, value in load_file(str(folder / "optimizer.safetensors")).items():
        entry = key.split(".", 1)[1]
        stored = value.to(torch.bfloat16) if entry in ROUNDED_MOMENTS else value
        tensors[f"optimizer/{key}"] = {**_encode_tensor(stored, blob), "original_dtype": str(value.dtype).removeprefix("torch.")}
    files: dict[str, bytes] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name not in ("model.safetensors", "optimizer.safetensors"):
            files[f"checkpoint/{path.name}"] = path.read_bytes()
    for name in ("config.json", "results.json"):
        if (run_dir / name).is_file():
            files[f"run/{name}"] = (run_dir / name).read_bytes()
    data = blob.getvalue()
    manifest = {"format": FORMAT, "step": step, "checkpoint": folder.name, "model_metadata": model_metadata,
                "rounded": {k: "bfloat16" for k in ROUNDED_MOMENTS}, "tensors": tensors,
                "sha256": {"tensors.bin": hashlib.sha256(data).hexdigest(),
                           **{k: hashlib.sha256(v).hexdigest() for k, v in files.items()}}}
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w") as tar:
        for name, content in [("manifest.json", json.dumps(manifest).encode()), ("tensors.bin", data), *files.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    payload = stream.getvalue()
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob(f"{prefix}.carry.*"):
        old.unlink()
    shards = []
    for i, start in enumerate(range(0, len(payload), max_file_bytes)):
        shard = dest / f"{prefix}.carry.{i:03d}"
        atomic_write(shard, payload[start:start + max_file_bytes], binary=True)
        shards.append(shard)
    return shards


def _read_pack(src: str | Path, prefix: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest and the checked members (all but the manifest) of ``src/PREFIX.carry.*``."""
    src = Path(src)
    shards = sorted(src.glob(f"{prefix}.carry.*"))
    if not shards:
        raise CarryError(f"No {prefix}.carry.* files in {src}: pack a run with sinkviz.lab.carry.pack first.")
    try:
        tar = tarfile.open(fileobj=io.BytesIO(b"".join(s.read_bytes() for s in shards)), mode="r")
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    except (tarfile.TarError, OSError) as exc:
        raise CarryError(f"{prefix}.carry.* in {src} is incomplete or corrupt ({exc}); were all shards carried?") from exc
    manifest = json.loads(members.pop("manifest.json"))
    for name, digest in manifest["sha256"].items():
        if hashlib.sha256(members.get(name, b"")).hexdigest() != digest:
            raise CarryError(f"{prefix}.carry.*: member {name} does not match its checksum; repack the run.")
    return manifest, members


def carried_step(src: str | Path, prefix: str) -> int:
    """The training step of the checkpoint packed in ``src/PREFIX.carry.*``, from its manifest alone: the manifest
    is the stream's first member, so only the first shard is read (``unpack`` checks the checksums)."""
    shards = sorted(Path(src).glob(f"{prefix}.carry.*"))
    if not shards:
        raise CarryError(f"No {prefix}.carry.* files in {src}: pack a run with sinkviz.lab.carry.pack first.")
    try:
        with tarfile.open(fileobj=io.BytesIO(shards[0].read_bytes()), mode="r") as tar:
            first = tar.next()
            if first is None or first.name != "manifest.json":
                raise tarfile.TarError("the first member is not manifest.json")
            return int(json.loads(tar.extractfile(first).read())["step"])
    except (tarfile.TarError, OSError, KeyError, ValueError) as exc:
        raise CarryError(f"{prefix}.carry.* in {src} is incomplete or corrupt ({exc}); were all shards carried?") from exc


def unpack(src: str | Path, run_dir: str | Path, prefix: str) -> Path:
    """Restore a carried checkpoint into ``run_dir/checkpoints/step_N`` (moments back in fp32) with the run's
    config.json and results.json, so that ``sinkviz.lab.run`` resumes from it; returns the checkpoint folder.
    Refuses a pack whose checksums do not match, and a run folder that already holds a newer checkpoint."""
    from sinkviz.lab.train import saved_checkpoints

    run_dir = Path(run_dir)
    manifest, members = _read_pack(src, prefix)
    existing = saved_checkpoints(run_dir)
    if existing and existing[-1][0] > manifest["step"]:
        raise CarryError(f"{run_dir} already holds step {existing[-1][0]}, newer than the carried step {manifest['step']}.")
    data = members.pop("tensors.bin")
    model, optimizer = {}, {}
    for name, index in manifest["tensors"].items():
        tensor = _decode_tensor(index, data)
        group, key = name.split("/", 1)
        if group == "model":
            model[key] = tensor
        else:
            optimizer[key] = tensor.to(_DTYPES[index["original_dtype"]])
    folder = run_dir / "checkpoints" / manifest["checkpoint"]
    with atomic_folder(folder, replace=True) as staging:  # a complete folder or none
        save_file(model, str(staging / "model.safetensors"), metadata=manifest["model_metadata"])
        save_file(optimizer, str(staging / "optimizer.safetensors"))
        for name, content in members.items():
            group, rel = name.split("/", 1)
            if group == "checkpoint":
                (staging / rel).write_bytes(content)
        state = json.loads((staging / "trainer_state.json").read_text())
        state["optimizer_moments"] = "bfloat16 (carried)"
        (staging / "trainer_state.json").write_text(json.dumps(state, indent=1))
    for name, content in members.items():
        group, rel = name.split("/", 1)
        if group == "run":
            atomic_write(run_dir / rel, content, binary=True)
    return folder
