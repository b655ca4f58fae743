"""Model files: a zip of ``manifest.json`` and ``.npy`` arrays, never a pickle.

Layout (format version 1)::

    manifest.json       {"format": "alsrec-model", "format_version": 1,
                         "alsrec_version", "class", "params", "objective",
                         "scalars", "arrays": {name: {"sha256", "dtype", "shape"}}}
    arrays/<name>.npy   one array each, read with allow_pickle=False

Every array's SHA-256 is checked on load, on top of the zip's CRC32; a file
from a newer format version, with missing or extra members, or with object
arrays is refused with :class:`~alsrec.ModelFileError`. Files are written to a
temporary file and renamed, so an interrupted save leaves the old file intact.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from alsrec._atomic import atomic_write
from alsrec.errors import ModelFileError
from alsrec.models.objective import Objective

FORMAT = "alsrec-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 1 << 20


def _model_classes() -> dict[str, type]:
    from alsrec.models.als import ALS
    from alsrec.models.base import FactorModel
    from alsrec.models.baselines import Popularity, RandomModel
    from alsrec.models.bayesian import BayesianALS

    classes: dict[str, type] = {
        "FactorModel": FactorModel,
        "ALS": ALS,
        "BayesianALS": BayesianALS,
        "Popularity": Popularity,
        "Random": RandomModel,
    }
    try:
        from alsrec.spark import SparkALS

        classes["SparkALS"] = SparkALS
    except ImportError:  # pyspark is optional
        pass
    return classes


def _ids_for_file(ids: np.ndarray) -> np.ndarray:
    if ids.dtype == object:
        return ids.astype(str)  # validated to be all str, so this is lossless
    return ids


def _ids_from_file(ids: np.ndarray) -> np.ndarray:
    return ids.astype(object) if ids.dtype.kind == "U" else ids


def save_model(model: Any, path: str | os.PathLike[str]) -> None:
    """Write a fitted model atomically."""
    model._require_fitted()
    arrays: dict[str, np.ndarray] = {
        "user_factors": model.user_factors_,
        "item_factors": model.item_factors_,
        "user_ids": _ids_for_file(model.user_ids_),
        "item_ids": _ids_for_file(model.item_ids_),
        "seen_indptr": model.seen_.indptr,
        "seen_indices": model.seen_.indices,
        "seen_data": model.seen_.data,
    }
    if model.user_bias_ is not None:
        arrays["user_bias"] = model.user_bias_
    if model.item_bias_ is not None:
        arrays["item_bias"] = model.item_bias_
    for name in getattr(model, "_saved_arrays", ()):  # model-specific fitted arrays
        arrays[name] = getattr(model, name)
    if model.item_titles_ is not None:
        titles = np.asarray(model.item_titles_, dtype=object)
        arrays["item_titles"] = np.where([isinstance(t, str) for t in titles], titles, "").astype(
            str
        )
    params = {k: v for k, v in model.get_params().items() if _json_safe(v)}
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "alsrec_version": _version(),
        "class": type(model).__name__,
        "params": params,
        "objective": None if model.objective_ is None else model.objective_.to_dict(),
        "scalars": {
            "global_bias": model.global_bias_,
            "loss_history": [float(x) for x in getattr(model, "loss_history_", [])],
        },
        "arrays": {},
    }
    payload: dict[str, bytes] = {}
    for name, array in arrays.items():
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
        data = buffer.getvalue()
        payload[f"arrays/{name}.npy"] = data
        manifest["arrays"][name] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "dtype": str(array.dtype),
            "shape": list(array.shape),
        }
    with atomic_write(path) as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as bundle:
        bundle.writestr(MANIFEST, json.dumps(manifest, indent=1))
        for member, data in payload.items():
            bundle.writestr(member, data)


def load_model(path: str | os.PathLike[str]) -> Any:
    """Read a model written by :meth:`FactorModel.save`.

    Raises
    ------
    ModelFileError
        The file is missing, damaged, truncated, from a newer alsrec, or holds
        anything but the documented members.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"no model file at {path}; train one with `alsrec train`.")
    try:
        with zipfile.ZipFile(path) as bundle:
            manifest = _read_manifest(bundle, path)
            expected = {MANIFEST} | {f"arrays/{n}.npy" for n in manifest["arrays"]}
            present = set(bundle.namelist())
            if present != expected:
                extra, missing = sorted(present - expected), sorted(expected - present)
                raise ModelFileError(
                    f"{path} is not a valid alsrec model: "
                    + (f"unexpected members {extra} " if extra else "")
                    + (f"missing members {missing}" if missing else "")
                    + ". It may have been tampered with; retrain or restore it."
                )
            arrays = {
                name: _read_array(bundle, name, spec, path)
                for name, spec in manifest["arrays"].items()
            }
    except zipfile.BadZipFile as exc:
        raise ModelFileError(
            f"{path} is damaged or not an alsrec model ({exc}); it may be truncated. "
            f"Retrain or restore it from a backup."
        ) from None
    return _build(manifest, arrays, path)


def _read_manifest(bundle: zipfile.ZipFile, path: Path) -> dict:
    try:
        info = bundle.getinfo(MANIFEST)
    except KeyError:
        raise ModelFileError(f"{path} has no {MANIFEST}: it is not an alsrec model.") from None
    if info.file_size > MAX_MANIFEST_BYTES:
        raise ModelFileError(f"{path}: the manifest is implausibly large; refusing it.")
    try:
        manifest = json.loads(bundle.read(MANIFEST))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: the manifest is not valid JSON ({exc}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an alsrec model file.")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model format version {version!r}, newer than this alsrec "
            f"({_version()}) reads ({FORMAT_VERSION}); upgrade alsrec to load it."
        )
    if not isinstance(manifest.get("arrays"), dict):
        raise ModelFileError(f"{path}: the manifest lists no arrays.")
    return manifest


def _read_array(bundle: zipfile.ZipFile, name: str, spec: dict, path: Path) -> np.ndarray:
    data = bundle.read(f"arrays/{name}.npy")
    if hashlib.sha256(data).hexdigest() != spec.get("sha256"):
        raise ModelFileError(
            f"{path}: array {name!r} fails its checksum; the file is damaged. "
            f"Retrain or restore it."
        )
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        raise ModelFileError(f"{path}: array {name!r} is not a plain array ({exc}).") from None
    if list(array.shape) != spec.get("shape") or str(array.dtype) != spec.get("dtype"):
        raise ModelFileError(f"{path}: array {name!r} does not match its manifest entry.")
    return array


def _build(manifest: dict, arrays: dict[str, np.ndarray], path: Path) -> Any:
    classes = _model_classes()
    cls = classes.get(manifest.get("class"))
    if cls is None:
        raise ModelFileError(
            f"{path} holds a {manifest.get('class')!r} model, which this alsrec does not know."
        )
    required = {
        "user_factors",
        "item_factors",
        "user_ids",
        "item_ids",
        "seen_indptr",
        "seen_indices",
        "seen_data",
    }
    if not required <= arrays.keys():
        raise ModelFileError(f"{path} lacks arrays {sorted(required - arrays.keys())}.")
    params = manifest.get("params") or {}
    try:
        model = cls(**params) if cls.__name__ != "FactorModel" else cls()
    except TypeError as exc:
        raise ModelFileError(f"{path}: its parameters do not fit {cls.__name__} ({exc}).") from None
    user_ids, item_ids = _ids_from_file(arrays["user_ids"]), _ids_from_file(arrays["item_ids"])
    x, y = arrays["user_factors"], arrays["item_factors"]
    n_users, n_items = len(user_ids), len(item_ids)
    if x.ndim != 2 or y.ndim != 2 or x.shape != (n_users, y.shape[1]) or len(y) != n_items:
        raise ModelFileError(f"{path}: factor shapes do not match the id lists.")
    try:
        seen = sp.csr_matrix(
            (arrays["seen_data"], arrays["seen_indices"], arrays["seen_indptr"]),
            shape=(n_users, n_items),
        )
        seen.check_format(full_check=True)
    except ValueError as exc:
        raise ModelFileError(f"{path}: the stored interactions are inconsistent ({exc}).") from None
    objective = manifest.get("objective")
    scalars = manifest.get("scalars") or {}
    model.user_factors_ = x
    model.item_factors_ = y
    model.user_ids_ = user_ids
    model.item_ids_ = item_ids
    model.global_bias_ = float(scalars.get("global_bias", 0.0))
    model.user_bias_ = arrays.get("user_bias")
    model.item_bias_ = arrays.get("item_bias")
    try:
        model.objective_ = None if objective is None else Objective(**objective)
    except TypeError as exc:
        raise ModelFileError(f"{path}: the objective entry is malformed ({exc}).") from None
    model.seen_ = seen
    titles = arrays.get("item_titles")
    model.item_titles_ = None if titles is None else titles.astype(object)
    model.loss_history_ = list(scalars.get("loss_history", []))
    for name in getattr(cls, "_saved_arrays", ()):
        if name in arrays:
            setattr(model, name, arrays[name])
    return model


def _json_safe(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _version() -> str:
    from alsrec import __version__

    return __version__
