"""Key-manifold PCA: does the first key lie off the subspace the other keys span?

Gu et al. (ICLR 2025) §3.1 say k_1 "is distributed on a different manifold" but show no PCA:
this module makes the claim checkable, it is sinkviz's own figure, not a reproduction.

* :func:`key_pca` — scikit-learn PCA of one KV head's keys pooled over samples, first token marked.
* :func:`first_key_offsubspace` — fit the top-``r`` principal subspace of the OTHER keys (tokens ≠ first) and
  report the share of ``||k_1||`` that lies outside it::

      share(k) = || (I - U_r U_rᵀ)(k - μ) || / || k - μ ||        (centered=True; μ = mean of the other keys)
      share(k) = || (I - V_r V_rᵀ) k || / || k ||                  (centered=False; V_r from the uncentred keys)

  beside the same share for held-out ordinary keys (a baseline: what "on the manifold" looks like).

Under GQA count every KV head once: use the un-repeated keys (``Trace.keys[l]`` is ``(B, n_kv, T, d)``), or
:func:`unique_kv_heads` to recover them from per-query-head copies (under GQA each KV head is shared by several query heads; count it once).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from sklearn.decomposition import PCA

from ._validate import as_array

__all__ = ["KeyPCA", "OffSubspace", "unique_kv_heads", "key_pca", "first_key_offsubspace"]


def unique_kv_heads(per_query_head, kv_head_of: Sequence[int], *, head_axis: int = -3,
                    atol: float = 0.0) -> np.ndarray:
    """Collapse per-query-head key copies ``(..., H, T, d)`` to one per KV head ``(..., n_kv, T, d)``.

    ``kv_head_of[h]`` is the KV head query head ``h`` uses.  Raises if two query heads mapped to the same KV
    head carry different keys (they would not be copies): then the input was not repeated KV keys.
    """
    a = np.asarray(per_query_head)
    a = np.moveaxis(a, head_axis, 0)
    kv_of = [int(x) for x in kv_head_of]
    if len(kv_of) != a.shape[0]:
        raise ValueError(f"kv_head_of has {len(kv_of)} entries but the head axis has {a.shape[0]}")
    n_kv = max(kv_of) + 1
    out = []
    for g in range(n_kv):
        members = [h for h, kv in enumerate(kv_of) if kv == g]
        if not members:
            raise ValueError(f"no query head uses KV head {g}; kv_head_of={kv_of}")
        for h in members[1:]:
            if not np.allclose(a[h], a[members[0]], atol=atol, rtol=0.0):
                raise ValueError(
                    f"query heads {members[0]} and {h} share KV head {g} but carry different keys: these are not "
                    "repeated KV keys (pass post-rotary keys per query head, or the un-repeated keys directly)"
                )
        out.append(a[members[0]])
    return np.moveaxis(np.stack(out), 0, head_axis)


def _pool(keys, lengths, first: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """keys (B, T, d) -> (all valid keys (N, d), is_first (N,), sample id (N,), position (N,))."""
    k = as_array(keys, name="keys", finite=False)
    if k.ndim == 2:
        k = k[None]
    if k.ndim != 3:
        raise ValueError(f"keys of one KV head must be (B, T, d) or (T, d); got {k.shape}")
    B, T, _ = k.shape
    lens = np.full(B, T) if lengths is None else np.asarray(lengths, dtype=np.int64).reshape(-1)
    if lens.shape[0] != B or (lens <= first).any() or (lens > T).any():
        raise ValueError(f"lengths must give one length in ({first}, {T}] per sample; got {lens.tolist()}")
    valid = np.arange(T)[None, :] < lens[:, None]
    b_id, pos = np.nonzero(valid)
    return k[b_id, pos], pos == first, b_id, pos


@dataclass(frozen=True)
class KeyPCA:
    """``coords`` ``(N, n_components)`` of every real key (pooled over samples); ``is_first``, ``sample`` and
    ``position`` ``(N,)`` say which key each row is; ``explained_variance_ratio`` ``(n_components,)``."""

    coords: np.ndarray
    is_first: np.ndarray
    sample: np.ndarray
    position: np.ndarray
    explained_variance_ratio: np.ndarray


def key_pca(keys, *, lengths: Sequence[int] | None = None, n_components: int = 2, first: int = 0,
            fit_on: str = "all") -> KeyPCA:
    """PCA (scikit-learn, centred) of one KV head's keys ``(B, T, d)`` pooled over samples.

    ``fit_on="all"`` fits on every real key (first tokens included); ``"others"`` fits on the non-first keys
    only and projects the first keys into that plane (shows how little of k_1 the others' axes capture).
    """
    X, is_first, b_id, pos = _pool(keys, lengths, first)
    if fit_on not in ("all", "others"):
        raise ValueError(f"fit_on must be 'all' or 'others'; got {fit_on!r}")
    fit_X = X if fit_on == "all" else X[~is_first]
    n_components = int(min(n_components, fit_X.shape[0], fit_X.shape[1]))
    pca = PCA(n_components=n_components).fit(fit_X)
    return KeyPCA(coords=pca.transform(X), is_first=is_first, sample=b_id, position=pos,
                  explained_variance_ratio=pca.explained_variance_ratio_)


@dataclass(frozen=True)
class OffSubspace:
    """``first``: share of ||k_first|| outside the others' top-``r`` subspace, per sample ``(B,)``;
    ``baseline``: the same share for held-out ordinary keys (each key scored against a subspace fitted without
    its own sample, or without itself when there is one sample); ``r``: the subspace dimension used."""

    first: np.ndarray
    baseline: np.ndarray
    r: int
    centered: bool

    @property
    def first_mean(self) -> float:
        return float(np.mean(self.first))

    @property
    def baseline_mean(self) -> float:
        return float(np.mean(self.baseline))


def _subspace(X: np.ndarray, r: int | None, centered: bool, var_explained: float = 0.5
              ) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean (zeros if not centred), top-r principal axes, and r (chosen from ``var_explained`` if None)."""
    mu = X.mean(axis=0) if centered else np.zeros(X.shape[1])
    Z = X - mu
    # principal axes from the d x d scatter matrix (eigh), much cheaper than an SVD of the N x d keys
    evals, evecs = np.linalg.eigh(Z.T @ Z)
    order = np.argsort(evals)[::-1]
    s2 = np.clip(evals[order], 0.0, None)
    vt = evecs[:, order].T
    if r is None:
        evr = s2 / max(float(s2.sum()), np.finfo(float).tiny)
        r = int(np.searchsorted(np.cumsum(evr), var_explained) + 1)
    r = int(min(r, vt.shape[0]))
    return mu, vt[:r], r


def _outside_share(Y: np.ndarray, mu: np.ndarray, comps: np.ndarray) -> np.ndarray:
    Z = Y - mu
    resid = Z - (Z @ comps.T) @ comps
    nz = np.linalg.norm(Z, axis=1)
    return np.divide(np.linalg.norm(resid, axis=1), nz, out=np.zeros_like(nz), where=nz > 0)


def first_key_offsubspace(keys, *, r: int | None = None, var_explained: float = 0.5,
                          lengths: Sequence[int] | None = None, first: int = 0, centered: bool = True,
                          n_folds: int = 5) -> OffSubspace:
    """Share of ``||k_first||`` outside the top-``r`` principal subspace of the other keys of one KV head.

    ``keys``: ``(B, T, d)`` post-rotary keys of ONE KV head (GQA: count each KV head once).
    ``r``: subspace dimension; if None, the smallest ``r`` whose components explain ``var_explained`` (default
    half) of the other keys' variance (uncentred: of their summed squares); the same ``r`` serves the baseline.
    Baseline: the non-first keys split into ``min(n_folds, B)`` folds by sample (by token when ``B == 1``);
    each fold is scored against a subspace fitted on the other folds.
    """
    X, is_first, b_id, pos = _pool(keys, lengths, first)
    others = X[~is_first]
    if others.shape[0] < 3:
        raise ValueError("need at least 3 non-first keys to fit a subspace")
    max_r = min(others.shape[0] - 1, others.shape[1])
    if r is not None and not 1 <= r <= max_r:
        raise ValueError(f"r must be in [1, {max_r}] for {others.shape[0]} keys of dim {others.shape[1]}; got {r}")
    mu, comps, r = _subspace(others, r, centered, var_explained)
    r = min(r, max_r)
    comps = comps[:r]
    first_share = _outside_share(X[is_first], mu, comps)
    # baseline: held-out ordinary keys
    groups = b_id[~is_first] if len(np.unique(b_id)) > 1 else pos[~is_first]
    uniq = np.unique(groups)
    n_f = int(min(n_folds, len(uniq)))
    fold_of = {g: i % n_f for i, g in enumerate(uniq)}
    folds = np.array([fold_of[g] for g in groups])
    base = np.empty(others.shape[0])
    for f in range(n_f):
        held = folds == f
        fit = others[~held]
        mu_f, comps_f, _ = _subspace(fit, min(r, fit.shape[0] - 1, fit.shape[1]), centered)
        base[held] = _outside_share(others[held], mu_f, comps_f)
    return OffSubspace(first=first_share, baseline=base, r=r, centered=centered)
