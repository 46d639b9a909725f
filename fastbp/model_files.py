"""Model files: a model dict, a TrainingRun, or a fitted LectureClassifier,
FastBPClassifier or FastBPRegressor in a
versioned ``.npz`` archive that loads without running code from the file.

The layout (docs/model-files.md): every array is one ``.npy`` member of a
NumPy ``.npz`` (zip) archive, plus the member ``fastbp_header``, a uint8 array
holding UTF-8 JSON: the format's name and version, the fastbp version that
wrote it, the kind of object, its activation and layer sizes, and for every
other member its dtype, shape and SHA-256. Estimators add their classes and
parameters. :func:`load` reads with ``allow_pickle=False`` and accepts a file
only if its header parses, its version is known, and its members are exactly
the arrays the header lists, each with the dtype, shape and digest it names.
"""

import hashlib
import json
import os
import zipfile

import numpy as np

from . import _validation as check
from . import reference

FORMAT_NAME = "fastbp-model"
FORMAT_VERSION = 1
HEADER_MEMBER = "fastbp_header"
KINDS = ("model", "training_run", "classifier", "mlp_classifier", "mlp_regressor")
# The drop-in estimators' kinds: their arrays and header entries are the estimator's own
# (saved_state / from_saved_state), not a model dict's.
ESTIMATOR_KINDS = {"mlp_classifier": "FastBPClassifier", "mlp_regressor": "FastBPRegressor"}
# Array dtypes a file may carry: numbers, booleans and fixed-width text. Object
# arrays would need pickle, which load refuses.
ALLOWED_DTYPE_KINDS = "biufU"


class ModelFileError(ValueError):
    """The file is not a fastbp model file this version can read: foreign,
    truncated, corrupted, from a newer format, or carrying a pickle."""


def _fastbp_version():
    from . import __version__
    return __version__


def _digest(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


# ---------------------------------------------------------------- saving

def save(obj, path):
    """Write a model dict, a :class:`fastbp.TrainingRun`, or a fitted
    :class:`fastbp.LectureClassifier`, :class:`fastbp.FastBPClassifier` or
    :class:`fastbp.FastBPRegressor` to ``path`` -> the path written.

    NumPy's rule for archives applies: ".npz" is appended to a path without it.
    """
    from .estimators import FastBPClassifier, FastBPRegressor, LectureClassifier
    from .trainer import TrainingRun

    if isinstance(obj, (FastBPClassifier, FastBPRegressor)):
        kind = "mlp_classifier" if isinstance(obj, FastBPClassifier) else "mlp_regressor"
        arrays, description = obj.saved_state()
        parameters = description["parameters"]
        sizes = [obj.n_features_in_] + [W.shape[1] for W in obj.coefs_]
        return _write(path, kind, parameters["activation"], sizes, arrays, description)
    if isinstance(obj, LectureClassifier):
        kind, model, arrays, extra = "classifier", obj.model_, *_classifier_contents(obj)
    elif isinstance(obj, TrainingRun):
        kind, model = "training_run", obj.model
        arrays = {"loss_passes": np.asarray(obj.loss_passes, dtype=np.int64),
                  "losses": np.asarray(obj.losses, dtype=np.float64)}
        extra = {}
    elif isinstance(obj, dict):
        kind, model, arrays, extra = "model", obj, {}, {}
    else:
        raise TypeError("save takes a model dict, a TrainingRun or a fitted LectureClassifier, FastBPClassifier "
                        "or FastBPRegressor, got %s" % type(obj).__name__)
    model, sizes = check.check_model(model)
    for name, value in model.items():
        if name != "activation":
            arrays[name] = value
    return _write(path, kind, reference.activation_of(model), sizes, arrays, extra)


def _write(path, kind, activation, sizes, arrays, extra):
    for name, value in arrays.items():
        if value.dtype.kind not in ALLOWED_DTYPE_KINDS:
            raise ValueError("array %s has dtype %s; a model file stores numbers, booleans or text"
                             % (name, value.dtype))
    header = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "fastbp_version": _fastbp_version(),
              "kind": kind, "activation": activation, "layer_sizes": [int(size) for size in sizes],
              "arrays": {name: {"dtype": value.dtype.str, "shape": list(value.shape), "sha256": _digest(value)}
                         for name, value in arrays.items()}}
    header.update(extra)
    encoded = np.frombuffer(json.dumps(header, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    np.savez(path, **{HEADER_MEMBER: encoded}, **arrays)
    return path


def _text_array(values, what):
    """Labels or feature names as fixed-width text, numbers or booleans: never objects."""
    array = np.asarray(values)
    if array.dtype.kind == "O":
        if not all(isinstance(value, str) for value in array.ravel()):
            raise ValueError("%s mix types or hold objects; a model file stores numbers, booleans or text"
                             % what)
        array = array.astype(str)
    if array.dtype.kind not in ALLOWED_DTYPE_KINDS:
        raise ValueError("%s have dtype %s; a model file stores numbers, booleans or text" % (what, array.dtype))
    return array


def _classifier_contents(classifier):
    """-> (its arrays beyond the weights, its header entries), from the estimator's saved_state."""
    saved = classifier.saved_state()
    arrays = {"classes": _text_array(saved["classes"], "classes_"),
              "loss_curve": np.asarray(saved["loss_curve"], dtype=np.float64)}
    if saved["feature_names_in"] is not None:
        arrays["feature_names_in"] = _text_array(saved["feature_names_in"], "feature_names_in_")
    return arrays, {"parameters": saved["parameters"], "state": saved["state"], "classes": arrays["classes"].tolist()}


# ---------------------------------------------------------------- loading

def load(path):
    """Read a file written by :func:`save` -> the same kind of object: a model
    dict, a TrainingRun, or a fitted LectureClassifier, FastBPClassifier or
    FastBPRegressor, bit for bit.

    Raises :class:`ModelFileError` (a ValueError) for a file that is not one.
    """
    path = os.fspath(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError as err:
        # NumPy takes any file that is not an archive or an array for a pickle;
        # only one that starts as pickles since protocol 2 do is called one.
        if "pickle" in str(err) and _first_byte(path) == b"\x80":
            raise ModelFileError("%s carries a pickle; fastbp never loads one, as unpickling runs code from "
                                 "the file" % path) from None
        raise ModelFileError("%s is not a fastbp model file: %s" % (path, err)) from None
    except (zipfile.BadZipFile, EOFError) as err:
        raise ModelFileError("%s is not a fastbp model file, or is truncated or corrupted: %s" % (path, err)) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ModelFileError("%s is not a fastbp model file: it holds a single array, not an .npz archive" % path)
    with archive:
        try:
            header = _read_header(archive, path)
            arrays = _read_arrays(archive, header, path)
        # zipfile raises RuntimeError for a member flagged as encrypted and
        # NotImplementedError for an unknown compression method: a damaged flag byte
        except (zipfile.BadZipFile, EOFError, OSError, KeyError, RuntimeError, NotImplementedError) as err:
            raise ModelFileError("%s is truncated or corrupted: %s" % (path, err)) from None
    return _rebuild(header, arrays, path)


def _first_byte(path):
    with open(path, "rb") as file:
        return file.read(1)


def _read_header(archive, path):
    if HEADER_MEMBER not in archive.files:
        raise ModelFileError("%s is not a fastbp model file: it has no %s member (members: %s)"
                             % (path, HEADER_MEMBER, archive.files[:10]))
    raw = _member(archive, HEADER_MEMBER, path)
    try:
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError("the header is not a byte string")
        header = json.loads(raw.tobytes().decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
    except (ValueError, UnicodeDecodeError) as err:
        raise ModelFileError("%s is not a fastbp model file: unreadable header (%s)" % (path, err)) from None
    if header.get("format") != FORMAT_NAME:
        raise ModelFileError("%s is not a fastbp model file: its header names format %r"
                             % (path, header.get("format")))
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError("%s has an invalid format version %r" % (path, version))
    if version > FORMAT_VERSION:
        raise ModelFileError("%s is in model-file format version %d (written by fastbp %s); this fastbp (%s) "
                             "reads versions up to %d: upgrade fastbp to load it"
                             % (path, version, header.get("fastbp_version"), _fastbp_version(), FORMAT_VERSION))
    if header.get("kind") not in KINDS:
        raise ModelFileError("%s holds an unknown kind of object %r" % (path, header.get("kind")))
    if not isinstance(header.get("arrays"), dict):
        raise ModelFileError("%s has a header without its list of arrays" % path)
    return header


def _member(archive, name, path):
    try:
        array = archive[name]
        if not isinstance(array, np.ndarray):  # NumPy hands over a member without the .npy magic as bytes
            raise ValueError("not a .npy array")
        return array
    except ValueError as err:
        if "pickle" in str(err) or "Object arrays" in str(err):
            raise ModelFileError("%s: member %r carries a pickle (an object array); fastbp never loads one"
                                 % (path, name)) from None
        raise ModelFileError("%s: member %r is not a valid array: %s" % (path, name, err)) from None


def _read_arrays(archive, header, path):
    listed = header["arrays"]
    present = set(archive.files) - {HEADER_MEMBER}
    if present != set(listed):
        raise ModelFileError("%s: its arrays %s are not those its header lists %s"
                             % (path, sorted(present), sorted(listed)))
    arrays = {}
    for name, expected in listed.items():
        array = _member(archive, name, path)
        if not isinstance(expected, dict):
            raise ModelFileError("%s: the header's entry for %r is not an object" % (path, name))
        if array.dtype.kind not in ALLOWED_DTYPE_KINDS or array.dtype.str != expected.get("dtype"):
            raise ModelFileError("%s: array %r has dtype %s, the header says %s"
                                 % (path, name, array.dtype.str, expected.get("dtype")))
        if list(array.shape) != expected.get("shape"):
            raise ModelFileError("%s: array %r has shape %s, the header says %s"
                                 % (path, name, list(array.shape), expected.get("shape")))
        if _digest(array) != expected.get("sha256"):
            raise ModelFileError("%s: array %r does not match its SHA-256 digest: the file is corrupted"
                                 % (path, name))
        arrays[name] = array
    return arrays


def _rebuild(header, arrays, path):
    from .trainer import TrainingRun

    if header["kind"] in ESTIMATOR_KINDS:
        return _rebuild_estimator(header, arrays, path)
    model = {name: value for name, value in arrays.items() if name[0] in "Wb" and name[1:].isdigit()}
    if header.get("activation") != "tanh":
        model["activation"] = header.get("activation")
    try:
        model, sizes = check.check_model(model)
    except (TypeError, ValueError) as err:
        raise ModelFileError("%s holds an invalid model: %s" % (path, err)) from None
    if list(sizes) != header.get("layer_sizes"):
        raise ModelFileError("%s: its layers %s are not the header's %s"
                             % (path, list(sizes), header.get("layer_sizes")))
    kind = header["kind"]
    expected = {"model": set(), "training_run": {"loss_passes", "losses"},
                "classifier": {"classes", "loss_curve"} | ({"feature_names_in"} & set(arrays))}[kind]
    if set(arrays) - set(model) != expected:
        raise ModelFileError("%s: a %s file has arrays %s besides the weights, this one %s"
                             % (path, kind, sorted(expected), sorted(set(arrays) - set(model))))
    if kind == "model":
        return model
    if kind == "training_run":
        return TrainingRun(model, arrays["loss_passes"].astype(np.intp), arrays["losses"])
    return _rebuild_classifier(header, arrays, model, sizes, path)


def _rebuild_classifier(header, arrays, model, sizes, path):
    from .estimators import LectureClassifier

    try:
        return LectureClassifier.from_saved_state(model, arrays["classes"], arrays["loss_curve"].tolist(),
                                                  arrays.get("feature_names_in"), header["parameters"],
                                                  header["state"])
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ModelFileError("%s holds an invalid classifier: %s" % (path, err)) from None


def _rebuild_estimator(header, arrays, path):
    from . import estimators

    kind = header["kind"]
    try:
        estimator = getattr(estimators, ESTIMATOR_KINDS[kind]).from_saved_state(
            arrays, {"parameters": header["parameters"], "state": header["state"]})
    except KeyError as err:
        raise ModelFileError("%s holds an invalid %s: its header or arrays lack %s"
                             % (path, ESTIMATOR_KINDS[kind], err)) from None
    except (TypeError, ValueError, AttributeError) as err:
        raise ModelFileError("%s holds an invalid %s: %s" % (path, ESTIMATOR_KINDS[kind], err)) from None
    sizes = [estimator.n_features_in_] + [W.shape[1] for W in estimator.coefs_]
    if header.get("activation") != estimator.activation or header.get("layer_sizes") != sizes:
        raise ModelFileError("%s: its header's activation %r and layers %s are not the estimator's %r and %s"
                             % (path, header.get("activation"), header.get("layer_sizes"), estimator.activation,
                                sizes))
    return estimator
