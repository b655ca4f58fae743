"""Model files: a zip of ``manifest.json`` and ``.npy`` arrays, never a pickle.

Layout (format version 1)::

    manifest.json       {"format": "alsrec-model", "format_version": 1,
                         "alsrec_version", "class" (the model catalog name),
                         "params", "objective",
                         "scalars", "arrays": {name: {"sha256", "dtype", "shape"}}}
    arrays/<name>.npy   one array each, read with allow_pickle=False

The loader trusts nothing in the file and validates before it allocates: the
manifest (at most 1 MiB, nesting at most 8 deep) is type-checked field by field;
every member must be stored uncompressed, listed in the manifest, and exactly as
large as its declared shape and dtype imply (so a small file cannot declare huge
arrays, and no zip bomb inflates); each ``.npy`` header must repeat the manifest's
shape and dtype before the data is read; only the dtypes the writer produces are
accepted; array lengths must agree with each other and ids must be unique; every
array's SHA-256 is checked on top of the zip's CRC32. Loading costs at most about
twice the declared array sizes in memory. Anything else is refused with
:class:`~alsrec.ModelFileError` naming what is wrong. Files are written through
:func:`alsrec._atomic.atomic_write`, so an interrupted save leaves the old file intact.

Ids are kept exactly: integer ids as int64, text ids as unicode arrays, and a model
holding both (an integer-id model that ``update_users`` gave text ids) stores every id
as text plus a boolean ``*_ids_integer`` array that says which ones were integers.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import numbers
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from alsrec._atomic import atomic_write
from alsrec._version import __version__
from alsrec.data.interactions import count_distinct
from alsrec.errors import ModelFileError, ParameterError
from alsrec.models import catalog
from alsrec.models.objective import Objective

FORMAT = "alsrec-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 1 << 20


def _ids_for_file(ids: np.ndarray, label: str) -> dict[str, np.ndarray]:
    """The arrays that store ``ids`` exactly: ints, text, or text + an is-integer mask."""
    if ids.dtype.kind in "iu":
        return {f"{label}_ids": ids.astype(np.int64)}
    if ids.dtype.kind == "U":
        return {f"{label}_ids": ids}
    values = list(ids)
    integer = np.array(
        [isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values], dtype=bool
    )
    text = np.array([isinstance(v, str) for v in values], dtype=bool)
    if not np.all(integer | text):
        bad = next(v for v, ok in zip(values, integer | text, strict=True) if not ok)
        raise ParameterError(
            f"cannot save {label} id {bad!r} of type {type(bad).__name__}: model files keep "
            "integer and text ids exactly; convert the ids to int or str before fitting."
        )
    if integer.all():
        return {f"{label}_ids": np.array(values, dtype=np.int64)}
    as_text = np.array([str(v) for v in values], dtype=str)
    if text.all():
        return {f"{label}_ids": as_text}
    return {f"{label}_ids": as_text, f"{label}_ids_integer": integer}


def _ids_from_file(arrays: dict[str, np.ndarray], label: str) -> np.ndarray:
    ids = arrays[f"{label}_ids"]
    mask = arrays.get(f"{label}_ids_integer")
    if ids.dtype.kind != "U":
        return ids
    restored = ids.astype(object)
    if mask is not None:
        restored[mask] = [int(v) for v in ids[mask]]
    return restored


def save_model(model: Any, path: str | os.PathLike[str]) -> None:
    """Write a fitted model atomically; its class must be in the model catalog."""
    model._require_fitted()
    name = catalog.name_of(type(model))
    if name is None:
        raise ModelFileError(
            f"{type(model).__name__} is not in the model catalog, so a saved file could not be "
            f"loaded back; register it with `class {type(model).__name__}(FactorModel, "
            f"name=...)` (see alsrec.models.catalog)."
        )
    arrays: dict[str, np.ndarray] = {
        "user_factors": model.user_factors_,
        "item_factors": model.item_factors_,
        **_ids_for_file(model.user_ids_, "user"),
        **_ids_for_file(model.item_ids_, "item"),
        "seen_indptr": model.seen_.indptr,
        "seen_indices": model.seen_.indices,
        "seen_data": model.seen_.data,
    }
    if model.user_bias_ is not None:
        arrays["user_bias"] = model.user_bias_
    if model.item_bias_ is not None:
        arrays["item_bias"] = model.item_bias_
    for array_name, attribute in _own_arrays(type(model)).items():  # e.g. fold-in state
        arrays[array_name] = getattr(model, attribute)
    if model.item_titles_ is not None:
        titles = np.asarray(model.item_titles_, dtype=object)
        arrays["item_titles"] = np.where([isinstance(t, str) for t in titles], titles, "").astype(
            str
        )
    params = {k: v for k, v in model.get_params().items() if _json_safe(v)}
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "alsrec_version": __version__,
        "class": name,
        "params": params,
        "objective": None if model.objective_ is None else model.objective_.to_dict(),
        "scalars": {
            "global_bias": model.global_bias_,
            # an iteration without a computed loss (compute_loss=False) is NaN: stored as null
            "loss_history": [
                float(x) if math.isfinite(x) else None for x in getattr(model, "loss_history_", [])
            ],
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
        bundle.writestr(MANIFEST, json.dumps(manifest, indent=1, allow_nan=False))
        for member, data in payload.items():
            bundle.writestr(member, data)


def load_model(path: str | os.PathLike[str]) -> Any:
    """Read a model written by :meth:`FactorModel.save`, validating it before allocating.

    Raises
    ------
    ModelFileError
        The file is missing, damaged, truncated, from a newer alsrec, or holds
        anything but the documented members, types, dtypes and shapes.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"no model file at {path}; train one with `alsrec train`.")
    try:
        with zipfile.ZipFile(path) as bundle:
            manifest = _read_manifest(bundle, path)
            _check_members(bundle, manifest, path)
            arrays = {
                name: _read_array(bundle, name, spec, path)
                for name, spec in manifest["arrays"].items()
            }
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise ModelFileError(
            f"{path} is damaged or not an alsrec model ({exc}); it may be truncated. "
            f"Retrain or restore it from a backup."
        ) from None
    return _build(manifest, arrays, path)


# --- the manifest -------------------------------------------------------------------

MAX_JSON_DEPTH = 8
HEX = frozenset("0123456789abcdef")
# The dtypes the writer produces, per array (text arrays: any unicode width).
ARRAY_DTYPES: dict[str, tuple[str, ...]] = {
    "user_factors": ("float32", "float64"),
    "item_factors": ("float32", "float64"),
    "user_ids": ("int64", "unicode"),
    "item_ids": ("int64", "unicode"),
    "user_ids_integer": ("bool",),
    "item_ids_integer": ("bool",),
    "seen_indptr": ("int32", "int64"),
    "seen_indices": ("int32", "int64"),
    "seen_data": ("float32",),
    "user_bias": ("float32", "float64"),
    "item_bias": ("float32", "float64"),
    "item_titles": ("unicode",),
    # BayesianALS's kept samples (S of them, k factors each), which its fold-in needs
    "sample_item_bias": ("float64",),  # (S, n_items)
    "sample_global_mean": ("float64",),  # (S,)
    "sample_noise_precision": ("float64",),  # (S,)
    "sample_user_prior_mean": ("float64",),  # (S, k + 1)
    "sample_user_prior_precision": ("float64",),  # (S, k + 1, k + 1)
}
# Arrays only a class that lists them in its ``_saved_arrays`` may hold.
SAMPLE_ARRAYS = frozenset(name for name in ARRAY_DTYPES if name.startswith("sample_"))
# Arrays with three dimensions (all others have one or two).
THREE_DIMENSIONAL = frozenset(["sample_user_prior_precision"])
REQUIRED_ARRAYS = frozenset(
    [
        "user_factors",
        "item_factors",
        "user_ids",
        "item_ids",
        "seen_indptr",
        "seen_indices",
        "seen_data",
    ]
)


def _json_depth(value: Any) -> int:
    depth, level = 0, [(value, 1)]
    while level:
        item, d = level.pop()
        depth = max(depth, d)
        if isinstance(item, dict):
            level.extend((v, d + 1) for v in item.values())
        elif isinstance(item, list):
            level.extend((v, d + 1) for v in item)
    return depth


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _read_manifest(bundle: zipfile.ZipFile, path: Path) -> dict:
    def bad(what: str) -> ModelFileError:
        return ModelFileError(f"{path}: invalid manifest: {what}. Retrain or restore the model.")

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
    except RecursionError:
        raise bad("nested too deeply") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an alsrec model file.")
    if _json_depth(manifest) > MAX_JSON_DEPTH:
        raise bad(f"nested more than {MAX_JSON_DEPTH} levels deep")
    version = manifest.get("format_version")
    if version is None:
        raise bad("it has no format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise bad(f"format_version {version!r} is not a positive whole number")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model format version {version}, newer than this alsrec "
            f"({__version__}) reads ({FORMAT_VERSION}); upgrade alsrec to load it."
        )
    if not isinstance(manifest.get("class"), str):
        raise bad("'class' must be a string")
    params = manifest.get("params", {})
    if not isinstance(params, dict) or not all(
        isinstance(v, str | int | float | bool | type(None)) for v in params.values()
    ):
        raise bad("'params' must map names to plain values")
    objective = manifest.get("objective")
    if objective is not None and not isinstance(objective, dict):
        raise bad("'objective' must be an object or null")
    scalars = manifest.get("scalars", {})
    if not isinstance(scalars, dict):
        raise bad("'scalars' must be an object")
    if not _is_number(scalars.get("global_bias", 0.0)):
        raise bad("'global_bias' must be a finite number")
    history = scalars.get("loss_history", [])
    if not isinstance(history, list) or not all(x is None or _is_number(x) for x in history):
        raise bad("'loss_history' must be a list of finite numbers or nulls")
    arrays = manifest.get("arrays")
    if not isinstance(arrays, dict):
        raise bad("it lists no arrays")
    if not arrays.keys() >= REQUIRED_ARRAYS:
        raise bad(f"arrays {sorted(REQUIRED_ARRAYS - arrays.keys())} are missing")
    for name, spec in arrays.items():
        if name not in ARRAY_DTYPES:
            raise bad(f"unknown array {name!r}")
        if not isinstance(spec, dict) or set(spec) != {"sha256", "dtype", "shape"}:
            raise bad(f"array {name!r} needs exactly sha256, dtype and shape")
        digest, dtype, shape = spec["sha256"], spec["dtype"], spec["shape"]
        if not isinstance(digest, str) or len(digest) != 64 or not set(digest) <= HEX:
            raise bad(f"array {name!r} has no valid sha256")
        most = 3 if name in THREE_DIMENSIONAL else 2
        if not isinstance(shape, list) or not 1 <= len(shape) <= most:
            raise bad(f"array {name!r} must have 1 to {most} dimensions")
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
            raise bad(f"array {name!r} has a shape that is not whole numbers")
        try:
            kind = np.dtype(dtype) if isinstance(dtype, str) else None
        except TypeError:
            kind = None
        allowed = ARRAY_DTYPES[name]
        if kind is None or not (
            kind.name in allowed
            or ("unicode" in allowed and kind.kind == "U" and kind.itemsize > 0)
        ):
            raise bad(f"array {name!r} has dtype {dtype!r}; allowed: {', '.join(allowed)}")
    return manifest


def _declared_bytes(spec: dict) -> int:
    return math.prod(spec["shape"]) * np.dtype(spec["dtype"]).itemsize


def _check_members(bundle: zipfile.ZipFile, manifest: dict, path: Path) -> None:
    """Members: exactly the listed ones, stored, and as large as declared, before reading."""
    expected = {MANIFEST} | {f"arrays/{n}.npy" for n in manifest["arrays"]}
    infos = bundle.infolist()
    present = [info.filename for info in infos]
    if sorted(present) != sorted(expected):
        extra, missing = sorted(set(present) - expected), sorted(expected - set(present))
        raise ModelFileError(
            f"{path} is not a valid alsrec model: "
            + (f"unexpected members {extra} " if extra else "")
            + (f"missing members {missing}" if missing else "")
            + (" duplicate members" if len(present) != len(set(present)) else "")
            + ". It may have been tampered with; retrain or restore it."
        )
    stored_total = 0
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
            raise ModelFileError(
                f"{path}: member {info.filename} is compressed; alsrec writes every member "
                "stored, so the file was not written by alsrec. Retrain or restore it."
            )
        stored_total += info.file_size
        if info.filename == MANIFEST:
            continue
        name = info.filename[len("arrays/") : -len(".npy")]
        data_bytes = _declared_bytes(manifest["arrays"][name])
        header = info.file_size - data_bytes
        if not 0 < header <= MAX_NPY_HEADER:
            raise ModelFileError(
                f"{path}: member {info.filename} holds {info.file_size} bytes, but its "
                f"declared shape and dtype need {data_bytes} bytes of data; refusing it."
            )
    if stored_total > path.stat().st_size:
        raise ModelFileError(
            f"{path}: members declare more bytes than the file holds; refusing it."
        )


MAX_NPY_HEADER = 1 << 16


def _read_array(bundle: zipfile.ZipFile, name: str, spec: dict, path: Path) -> np.ndarray:
    with bundle.open(f"arrays/{name}.npy") as stream:
        data = stream.read()  # as large as declared: checked against the zip directory
    if hashlib.sha256(data).hexdigest() != spec["sha256"]:
        raise ModelFileError(
            f"{path}: array {name!r} fails its checksum; the file is damaged. "
            f"Retrain or restore it."
        )
    buffer = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(buffer)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read_header(buffer, max_header_size=MAX_NPY_HEADER)
    except (ValueError, SyntaxError, TypeError) as exc:
        raise ModelFileError(f"{path}: array {name!r} is not a plain array ({exc}).") from None
    if dtype.hasobject:
        raise ModelFileError(
            f"{path}: array {name!r} is not a plain array (it holds Python objects, which "
            "alsrec never writes and never unpickles)."
        )
    if list(shape) != spec["shape"] or dtype != np.dtype(spec["dtype"]):
        raise ModelFileError(f"{path}: array {name!r} does not match its manifest entry.")
    body = memoryview(data)[buffer.tell() :]
    if len(body) != _declared_bytes(spec):
        raise ModelFileError(f"{path}: array {name!r} has the wrong number of bytes.")
    array = np.frombuffer(body, dtype=dtype)
    return array.reshape(shape, order="F" if fortran else "C").copy()


# --- the model -----------------------------------------------------------------------


def _build(manifest: dict, arrays: dict[str, np.ndarray], path: Path) -> Any:
    def bad(what: str) -> ModelFileError:
        return ModelFileError(f"{path}: {what}. The file is inconsistent; retrain or restore it.")

    name = manifest["class"]
    cls = catalog.model_class(name)
    if cls is None:
        raise ModelFileError(
            f"{path} holds a {manifest['class']!r} model, which this alsrec does not know."
        )
    params = manifest.get("params", {})
    try:
        model = cls(**params) if cls is not catalog.model_class("FactorModel") else cls()
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: its parameters do not fit {cls.__name__} ({exc}).") from None
    if arrays["user_ids"].ndim != 1 or arrays["item_ids"].ndim != 1:
        raise bad("id lists must be 1-dimensional")
    for label in ("user", "item"):
        mask = arrays.get(f"{label}_ids_integer")
        if mask is not None and mask.shape != arrays[f"{label}_ids"].shape:
            raise bad(f"{label}_ids_integer does not match {label}_ids")
    try:
        user_ids, item_ids = _ids_from_file(arrays, "user"), _ids_from_file(arrays, "item")
    except ValueError as exc:  # an integer mask over text that is not a number
        raise bad(f"ids are malformed ({exc})") from None
    x, y = arrays["user_factors"], arrays["item_factors"]
    n_users, n_items = len(user_ids), len(item_ids)
    if count_distinct(user_ids) != n_users or count_distinct(item_ids) != n_items:
        raise bad("ids repeat")
    if x.ndim != 2 or y.ndim != 2 or x.shape != (n_users, y.shape[1]) or len(y) != n_items:
        raise bad("factor shapes do not match the id lists")
    if x.dtype != y.dtype:
        raise bad("user and item factors have different dtypes")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise bad("factors hold NaN or inf")
    for name, length in (("user_bias", n_users), ("item_bias", n_items), ("item_titles", n_items)):
        if name in arrays and arrays[name].shape != (length,):
            raise bad(f"{name} has {arrays[name].shape} entries, expected ({length},)")
    for name in ("user_bias", "item_bias"):
        if name in arrays and not np.isfinite(arrays[name]).all():
            raise bad(f"{name} holds NaN or inf")
    own = _own_arrays(cls)
    stray = sorted((arrays.keys() & SAMPLE_ARRAYS) - own.keys())
    if stray:
        raise bad(f"arrays {stray} belong to no {cls.__name__} model")
    missing = sorted(own.keys() - arrays.keys())
    if missing:
        raise bad(f"arrays {missing} that every {cls.__name__} model holds are missing")
    if own.keys() >= SAMPLE_ARRAYS:
        _check_samples(arrays, y.shape[1], n_items, bad)
    indptr, indices, data = arrays["seen_indptr"], arrays["seen_indices"], arrays["seen_data"]
    if indptr.ndim != 1 or indices.ndim != 1 or data.ndim != 1:
        raise bad("the stored interactions must be 1-dimensional arrays")
    try:
        seen = sp.csr_matrix((data, indices, indptr), shape=(n_users, n_items))
        seen.check_format(full_check=True)
    except ValueError as exc:
        raise bad(f"the stored interactions are inconsistent ({exc})") from None
    objective = manifest.get("objective")
    scalars = manifest.get("scalars", {})
    try:
        objective_ = None if objective is None else Objective(**objective)
        if objective_ is not None:
            objective_.confidence_code  # noqa: B018 - raises on an unknown mode
            objective_.target_code  # noqa: B018
    except (TypeError, KeyError, ValueError) as exc:
        raise ModelFileError(f"{path}: the objective entry is malformed ({exc}).") from None
    model.user_factors_ = x
    model.item_factors_ = y
    model.user_ids_ = user_ids
    model.item_ids_ = item_ids
    model.global_bias_ = float(scalars.get("global_bias", 0.0))
    model.user_bias_ = arrays.get("user_bias")
    model.item_bias_ = arrays.get("item_bias")
    model.objective_ = objective_
    model.seen_ = seen
    titles = arrays.get("item_titles")
    model.item_titles_ = None if titles is None else titles.astype(object)
    model.loss_history_ = [
        float("nan") if v is None else float(v) for v in scalars.get("loss_history", [])
    ]
    for array_name, attribute in own.items():
        setattr(model, attribute, arrays[array_name])
    return model


def _own_arrays(cls: type) -> dict[str, str]:
    """File array name -> attribute, for the fitted arrays a model class saves beyond the
    shared ones (its ``_saved_arrays``, attribute names ending in ``_``)."""
    return {attribute.rstrip("_"): attribute for attribute in getattr(cls, "_saved_arrays", ())}


def _check_samples(arrays: dict[str, np.ndarray], width: int, n_items: int, bad) -> None:
    """Kept samples consistent with the factors: S samples of k = width / S columns each."""
    n_samples = arrays["sample_global_mean"].shape[0]
    if arrays["sample_global_mean"].ndim != 1 or n_samples == 0 or width % n_samples:
        raise bad(f"sample_global_mean must hold one entry per kept sample of the {width} columns")
    d = width // n_samples + 1  # k factors and the bias
    expected = {
        "sample_global_mean": (n_samples,),
        "sample_noise_precision": (n_samples,),
        "sample_item_bias": (n_samples, n_items),
        "sample_user_prior_mean": (n_samples, d),
        "sample_user_prior_precision": (n_samples, d, d),
    }
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise bad(f"{name} has shape {arrays[name].shape}, expected {shape}")
        if not np.isfinite(arrays[name]).all():
            raise bad(f"{name} holds NaN or inf")
    if not (arrays["sample_noise_precision"] > 0).all():
        raise bad("sample_noise_precision holds values <= 0")
    precision = arrays["sample_user_prior_precision"]
    if not np.allclose(precision, precision.transpose(0, 2, 1)) or not (
        np.linalg.eigvalsh(precision).min() > 0
    ):
        raise bad("sample_user_prior_precision holds matrices that are not positive definite")


def _json_safe(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
