"""Trained models on disk: ``<data_dir>/recommend/<workspace>/<trained-at>/`` plus a pointer.

Each training writes a new directory named by its training time (UTC, ``%Y%m%dT%H%M%S%fZ``):
``als.npz`` and, when BPR is served, ``bpr.npz`` (implicit's own ``save``), ``arrays.npz``
(the matrices, popularity and co-occurrence) and ``info.json`` (ids and :class:`ModelInfo`).
Only then is ``current.json`` replaced (temp file, fsync, rename), so a reader sees the old
model or the new one, never half of one. The two newest directories are kept; older ones
are removed. Every file is read with ``allow_pickle=False``.

A loaded model is kept in memory by its directory (its training time): the pointer is read
on every :func:`load` (one small file), the arrays and models only when it names another
training, so a scheduler round or an API request does not reload an unchanged model.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking
from threadpoolctl import threadpool_limits

from siyu.core.errors import NotFoundError, StoreError
from siyu.recommend.models import ModelInfo, Product
from siyu.recommend.training import Trained

POINTER = "current.json"
KEEP = 2
_MATRICES = ("user_items", "bought", "together")

Loaded = tuple[Trained, ModelInfo, dict[str, Product]]
# (data dir, workspace) → (the directory loaded, what it held): the latest model per workspace.
_cache: dict[tuple[str, str], tuple[Path, Loaded]] = {}
_cache_lock = threading.Lock()


def workspace_dir(data_dir: Path, workspace_id: str) -> Path:
    """Where a workspace's models live."""
    return data_dir / "recommend" / workspace_id


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def save(
    data_dir: Path, trained: Trained, info: ModelInfo, catalogue: Mapping[str, Product]
) -> Path:
    """Write the model and make it the workspace's current one; returns its directory."""
    root = workspace_dir(data_dir, info.workspace_id)
    target = root / info.trained_at.strftime("%Y%m%dT%H%M%S%fZ")
    target.mkdir(parents=True, exist_ok=True)
    trained.als.save(str(target / "als.npz"))
    if trained.bpr is not None:
        trained.bpr.save(str(target / "bpr.npz"))
    arrays: dict[str, np.ndarray] = {
        "popularity": trained.popularity,
        "item_orders": trained.item_orders,
        "orders": np.array([trained.orders]),
    }
    for name in _MATRICES:
        m: sp.csr_matrix = getattr(trained, name)
        arrays |= {f"{name}_data": m.data, f"{name}_indices": m.indices, f"{name}_indptr": m.indptr}
        arrays[f"{name}_shape"] = np.array(m.shape)
    np.savez(target / "arrays.npz", **arrays)  # type: ignore[arg-type]
    meta = {
        "persons": trained.persons,
        "products": trained.products,
        "catalogue": [p.model_dump(mode="json") for p in catalogue.values()],
        "info": info.model_dump(mode="json"),
    }
    _write_atomic(target / "info.json", json.dumps(meta, ensure_ascii=False).encode())
    _write_atomic(root / POINTER, json.dumps({"directory": target.name}).encode())
    _prune(root, keep=target.name)
    return target


def _prune(root: Path, keep: str) -> None:
    versions = sorted(p for p in root.iterdir() if p.is_dir())
    for old in versions[:-KEEP]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)


def _current(data_dir: Path, workspace_id: str) -> Path:
    root = workspace_dir(data_dir, workspace_id)
    try:
        pointer = json.loads((root / POINTER).read_text())
    except FileNotFoundError:
        raise NotFoundError(
            "no recommendation model yet: run `siyu recommend train` first", field="model"
        ) from None
    except ValueError as exc:
        raise StoreError(f"unreadable model pointer in {root}: {exc}") from exc
    return root / str(pointer["directory"])


def load_info(data_dir: Path, workspace_id: str) -> ModelInfo:
    """The current model's facts (NotFoundError before the first training)."""
    meta = json.loads((_current(data_dir, workspace_id) / "info.json").read_text())
    return ModelInfo.model_validate(meta["info"])


def load(data_dir: Path, workspace_id: str) -> Loaded:
    """The current model, its facts and the catalogue derived at training (NotFoundError
    before the first training); from memory while the pointer names the same training."""
    key = (str(data_dir), workspace_id)
    try:
        where = _current(data_dir, workspace_id)
    except NotFoundError:  # removed (an erasure drops the model): forget it here too
        with _cache_lock:
            _cache.pop(key, None)
        raise
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == where:
            return cached[1]
        loaded = _load_from(where)
        _cache[key] = (where, loaded)
        return loaded


def cache_size() -> int:
    """How many models are held in memory (for tests and diagnostics)."""
    return len(_cache)


def _load_from(where: Path) -> Loaded:
    meta = json.loads((where / "info.json").read_text())
    with np.load(where / "arrays.npz", allow_pickle=False) as raw:
        arrays = {name: raw[name] for name in raw.files}
    matrices = {
        name: sp.csr_matrix(
            (arrays[f"{name}_data"], arrays[f"{name}_indices"], arrays[f"{name}_indptr"]),
            shape=tuple(arrays[f"{name}_shape"]),
        )
        for name in _MATRICES
    }
    # Building a model checks the BLAS threads (a warning unless limited, as in training).
    with threadpool_limits(1, "blas"):
        als = AlternatingLeastSquares.load(str(where / "als.npz"))
        bpr_path = where / "bpr.npz"
        bpr = BayesianPersonalizedRanking.load(str(bpr_path)) if bpr_path.exists() else None
    trained = Trained(
        persons=list(meta["persons"]),
        products=list(meta["products"]),
        als=als,
        bpr=bpr,
        popularity=arrays["popularity"],
        item_orders=arrays["item_orders"],
        orders=int(arrays["orders"][0]),
        **matrices,
    )
    catalogue = [Product.model_validate(p) for p in meta["catalogue"]]
    return trained, ModelInfo.model_validate(meta["info"]), {p.product_id: p for p in catalogue}
