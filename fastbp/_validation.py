"""Input checks for the public API.

The compiled kernels run without bounds checks, so these checks are the only
guard: every array is checked and converted once, here, to a C-ordered float64
or float32 (or intp, for labels) array, and every error names the argument at fault.
"""

import argparse
import numbers
import os
import re

import numpy as np

from .reference import ACTIVATIONS


# Labels index the output layer, whose width is an array length: beyond this
# the output layer alone could not be allocated.
MAX_LABEL = 2**31 - 1

# The precisions of the kernels: float64 (the lecture's) and float32.
DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def check_dtype(dtype, name="dtype"):
    """-> np.float64 or np.float32 from "float64"/"float32", a NumPy dtype or a scalar type."""
    if not isinstance(dtype, (str, np.dtype, type)):
        raise TypeError("%s must be 'float64' or 'float32' (or the NumPy dtype), got %r" % (name, dtype))
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError("%s must be 'float64' or 'float32', got %r" % (name, dtype)) from None
    if resolved not in DTYPES:
        raise ValueError("%s must be float64 or float32; %s is not supported" % (name, resolved))
    return resolved.type


def check_X(X, name="X", dtype=np.float64):
    """-> X as a C-ordered (N,D) array of dtype with N, D >= 1 and finite values."""
    if isinstance(X, np.ndarray):
        array = X
    else:
        try:
            array = np.asarray(X)
        except ValueError as err:  # ragged nested lists
            raise ValueError("%s must be a 2-D array of numbers: %s" % (name, err)) from None
    if array.dtype.kind not in "iuf":
        raise TypeError("%s must hold real numbers, got dtype %s" % (name, array.dtype))
    if array.ndim != 2:
        raise ValueError("%s must be 2-D (samples, features), got %d dimension(s)" % (name, array.ndim))
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError("%s is empty: shape %s" % (name, array.shape))
    if not (array.dtype == dtype and array.flags.c_contiguous):  # the conversion copies X
        check_memory(array.size * np.dtype(dtype).itemsize, "a %s copy of %s %s" % (np.dtype(dtype).name, name,
                                                                                   array.shape))
    with np.errstate(over="ignore"):  # values beyond float32's range are reported below
        converted = np.ascontiguousarray(array, dtype=dtype)
    if not np.all(np.isfinite(converted)):
        if converted.dtype != np.float64 and np.all(np.isfinite(np.asarray(array, dtype=np.float64))):
            raise ValueError("%s has values beyond the range of %s" % (name, np.dtype(dtype).name))
        raise ValueError("%s contains NaN or infinity" % name)
    return converted


def check_y(y, num_samples, name="y"):
    """-> y as a C-ordered intp (N,) array of non-negative integer labels.

    Floating labels are accepted when every value is a whole number (0.0, 1.0,
    ..., as many loaders produce), as scikit-learn accepts them."""
    try:
        array = np.asarray(y)
    except ValueError as err:  # ragged nested lists
        raise ValueError("%s must be a 1-D array of integer class labels: %s" % (name, err)) from None
    if array.dtype.kind not in "iuf":
        raise TypeError("%s must hold integer class labels 0..C-1, got dtype %s" % (name, array.dtype))
    if array.ndim != 1:
        raise ValueError("%s must be 1-D, got %d dimension(s)" % (name, array.ndim))
    if len(array) != num_samples:
        raise ValueError("%s has %d labels but X has %d samples" % (name, len(array), num_samples))
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)):
            raise ValueError("%s contains NaN or infinity; labels must be the integers 0..C-1" % name)
        if np.any(array != np.floor(array)):
            raise ValueError("%s has non-integer labels such as %r; labels must be the integers 0..C-1"
                             % (name, float(array[array != np.floor(array)][0])))
        if array.max() > MAX_LABEL:
            raise ValueError("%s has label %g; labels must be 0..C-1 with C at most %d"
                             % (name, array.max(), MAX_LABEL + 1))
    if array.min() < 0:
        raise ValueError("%s has a negative label %d; labels must be 0..C-1" % (name, array.min()))
    if array.max() > MAX_LABEL:
        raise ValueError("%s has label %d; labels must be 0..C-1 with C at most %d"
                         % (name, array.max(), MAX_LABEL + 1))
    return np.ascontiguousarray(array, dtype=np.intp)


def check_training_labels(y, num_samples, name="y"):
    """-> (y, C): labels for training must use every class 0..C-1, with C >= 2."""
    y = check_y(y, num_samples, name)
    num_classes = int(y.max()) + 1
    if num_classes < 2:
        raise ValueError("%s has a single class; training needs at least 2" % name)
    # every class present: counted in one pass where the classes are at most as
    # many as the samples (np.unique sorts: 2 ms for 100 000 labels, against 0.1);
    # more classes than samples cannot all be present
    if num_classes <= len(y) and np.bincount(y, minlength=num_classes).all():
        return y, num_classes
    present = np.unique(y)
    if len(present) < num_classes:
        # the first missing classes only: a label like 10**9 must not make an array of every class
        shown = 10
        missing = np.setdiff1d(np.arange(min(num_classes, len(present) + shown)), present)[:shown].tolist()
        raise ValueError("%s has labels up to %d but no sample of class %s%s; labels must be 0..C-1 "
                         "with every class present" % (name, num_classes - 1, missing,
                                                       " and others" if num_classes - len(present) > shown else ""))
    return y, num_classes


def check_labels_fit(y, num_classes, name="y"):
    if y.max() >= num_classes:
        raise ValueError("%s has label %d but the model has only %d classes" % (name, y.max(), num_classes))


def check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError("%s must be an integer, got %r" % (name, value))
    if value < minimum:
        raise ValueError("%s must be >= %d, got %d" % (name, minimum, value))
    return int(value)


def check_real(value, name, positive):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError("%s must be a real number, got %r" % (name, value))
    value = float(value)
    if not np.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError("%s must be a finite %s number, got %r"
                         % (name, "positive" if positive else "non-negative", value))
    return value


def check_hidden(hidden, name="nn_hdim"):
    """-> tuple of hidden-layer sizes from an int or a sequence of ints."""
    if isinstance(hidden, (numbers.Integral, np.integer)) and not isinstance(hidden, bool):
        hidden = (hidden,)
    if not isinstance(hidden, (tuple, list)):
        raise TypeError("%s must be a positive integer or a tuple of them, got %r" % (name, hidden))
    if len(hidden) == 0:
        raise ValueError("%s must name at least one hidden layer" % name)
    return tuple(check_int(h, name, 1) for h in hidden)


def check_activation(activation, name="activation"):
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError("%s must be one of %s, got %r" % (name, sorted(ACTIVATIONS), activation))
    return activation


def model_dtype(arrays, name="model"):
    """The precision of a model's arrays: float32 when its floating arrays are
    float32, otherwise float64 (integer arrays are converted). A model whose
    arrays mix float32 and float64, or hold another floating type, is refused."""
    floating = {np.asarray(array).dtype for array in arrays.values()
                if isinstance(array, np.ndarray) and array.dtype.kind == "f"}
    unsupported = sorted(str(dtype) for dtype in floating if dtype not in DTYPES)
    if unsupported:
        raise TypeError("%s has arrays of dtype %s; fastbp computes in float64 or float32"
                        % (name, ", ".join(unsupported)))
    if len(floating) > 1:
        raise ValueError("%s mixes float32 and float64 arrays; convert them to one dtype" % name)
    return np.float32 if floating == {np.dtype(np.float32)} else np.float64


def check_model(model, name="model"):
    """-> (model with C-ordered arrays of one dtype, layer sizes (D, H1, ..., C))."""
    if not isinstance(model, dict):
        raise TypeError("%s must be a dict with keys W1, b1, W2, b2, ..., got %s" % (name, type(model).__name__))
    check_activation(model.get("activation", "tanh"), "%s['activation']" % name)
    arrays = {k: v for k, v in model.items() if k != "activation"}
    bad_keys = [k for k in arrays if not (isinstance(k, str) and re.fullmatch(r"[Wb][1-9][0-9]*", k))]
    if bad_keys:
        raise ValueError("%s has unexpected keys %s" % (name, bad_keys))
    num_layers = len(arrays) // 2
    expected = {"%s%d" % (kind, l) for kind in "Wb" for l in range(1, max(num_layers, 2) + 1)}
    if set(arrays) != expected:
        raise ValueError("%s must have keys W1..WL and b1..bL for L >= 2 layers; missing %s, unexpected %s"
                         % (name, sorted(expected - set(arrays)), sorted(set(arrays) - expected)))
    dtype = model_dtype(arrays, name)
    checked = {}
    sizes = []
    for l in range(1, num_layers + 1):
        W = check_X(model["W%d" % l], "%s['W%d']" % (name, l), dtype)
        b = check_X(model["b%d" % l], "%s['b%d']" % (name, l), dtype)
        if l == 1:
            sizes.append(W.shape[0])
        elif W.shape[0] != sizes[-1]:
            raise ValueError("%s['W%d'] has %d rows but layer %d has %d outputs"
                             % (name, l, W.shape[0], l - 1, sizes[-1]))
        if b.shape != (1, W.shape[1]):
            raise ValueError("%s['b%d'] must have shape (1, %d), got %s" % (name, l, W.shape[1], b.shape))
        sizes.append(W.shape[1])
        checked["W%d" % l], checked["b%d" % l] = W, b
    if "activation" in model:
        checked["activation"] = model["activation"]
    return checked, tuple(sizes)


def check_X_fits(X, sizes, name="X"):
    if X.shape[1] != sizes[0]:
        raise ValueError("%s has %d features but the model expects %d" % (name, X.shape[1], sizes[0]))


# Below this a job is not worth reading /proc/meminfo for (every predict call checks).
ALWAYS_AFFORDABLE_BYTES = 64 * 2**20


def available_memory():
    """Bytes this machine can still give: MemAvailable of /proc/meminfo, or else its physical memory."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None  # unknown: nothing is refused


def check_memory(num_bytes, what):
    """Refuse, before allocating, a job whose arrays would not fit in the memory
    available: the allocation would fail or the machine swap to a halt."""
    if num_bytes < ALWAYS_AFFORDABLE_BYTES:
        return
    available = available_memory()
    if available is not None and num_bytes > available:
        raise ValueError("%s would need %.3g GB of memory but %.3g GB are available; use smaller data or layers"
                         % (what, num_bytes / 1e9, available / 1e9))


def argument_type(convert, validate):
    """An argparse type for the command line: convert the string, then check it
    with one of the checks above; their errors become argparse's usage errors."""
    def parse(text):
        try:
            return validate(convert(text))
        except (TypeError, ValueError) as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return parse


def int_argument(minimum):
    """An argparse type: an integer >= minimum."""
    return argument_type(int, lambda value: check_int(value, "value", minimum))


def positive_real_argument():
    """An argparse type: a finite positive number."""
    return argument_type(float, lambda value: check_real(value, "value", True))
