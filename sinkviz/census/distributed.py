"""A census over several processes: who takes which samples, the process group, and the exact merge on one rank.

Several processes (``torchrun``/``accelerate launch``) each run :func:`sinkviz.census.run_census` on their share of
the samples (:func:`shard`); :func:`gather_results` merges the partial results exactly (per-sample arrays
concatenated in the original sample order, sums added in float64; :meth:`CensusResult.merge`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from sinkviz.census.result import CensusResult


@dataclass(frozen=True)
class Launch:
    """This process's place in a launch, as torchrun and accelerate describe it in the environment."""

    world_size: int
    rank: int
    local_rank: int

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_environment(cls) -> Launch:
        """``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``; a single process when they are not set."""
        rank = int(os.environ.get("RANK", "0"))
        return cls(int(os.environ.get("WORLD_SIZE", "1")), rank, int(os.environ.get("LOCAL_RANK", str(rank))))


def shard(n: int, rank: int, world: int) -> list[int]:
    """Indices of ``n`` items that process ``rank`` of ``world`` takes (round robin)."""
    if not 0 <= rank < world:
        raise ValueError(f"rank {rank} out of range for world size {world}")
    return list(range(rank, n, world))


def join_process_group(device: str, local_rank: int) -> str:
    """Start torch.distributed: NCCL with one GPU a process when ``device`` is "auto" or "cuda" and CUDA is there,
    else gloo. Returns the device this process should load the model on."""
    backend = "nccl" if torch.cuda.is_available() and device in ("auto", "cuda") else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
        return f"cuda:{local_rank}"
    return "cpu" if device == "auto" else device


def leave_process_group() -> None:
    """Wait for every process, then end the process group."""
    dist.barrier()
    dist.destroy_process_group()


def gather_results(result: CensusResult, dst: int = 0) -> CensusResult | None:
    """Merge per-process results over torch.distributed: returns the merged result on rank ``dst`` (None elsewhere).
    Without an initialised process group, returns ``result`` unchanged."""
    if not (dist.is_available() and dist.is_initialized()):
        return result
    parts = [None] * dist.get_world_size() if dist.get_rank() == dst else None
    dist.gather_object(result, parts, dst=dst)
    if dist.get_rank() != dst:
        return None
    return CensusResult.merge(parts)
