"""Property-based fuzzing of the public entry points (issue 11).

Hypothesis generates inputs (arrays of every dtype and shape, with NaN,
infinities and huge values; labels; layer sizes; hyperparameters) and each
call runs in a child process (tests/fuzz_worker.py), so that a crash of the
compiled kernels fails the test, with the input, instead of killing pytest.
Every outcome must be a correct result or a documented exception
(docs/bad-input.md): a TypeError or ValueError (DivergenceError and
ModelFileError are ValueErrors). Results are checked against the NumPy
reference (fastbp/reference.py).

The runs are derandomized, so CI tries the same inputs every time. The counts
of outcomes are printed at the end of the run and written to the file named by
FASTBP_FUZZ_REPORT when it is set.
"""

import collections
import warnings

import numpy as np
import pytest


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from fastbp import reference  # noqa: E402

from fuzz_worker import ChildCrashed, Worker, report_outcomes  # noqa: E402

# Generated inputs per entry point; their sum is the inputs tried per run (>= 1000 with the model files').
EXAMPLES = {"train": 900, "predict": 500, "calculate_loss": 300, "estimator": 150}
FUZZ_SETTINGS = dict(deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                            HealthCheck.filter_too_much])
DOCUMENTED = ("TypeError", "ValueError")  # DivergenceError, ModelFileError, InvalidParameterError are ValueErrors
# Agreement with the reference: the kernels compute the reference's bits in the
# same precision (tests/kernels/test_agreement.py); these bounds leave room for the
# last bits of a different summation order on inputs as odd as these.
RTOL = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 2e-4}
ATOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-6}

MAX_COMPARED_EPSILON = 0.1  # the largest step size whose runs are compared across backends

OUTCOMES = collections.Counter()


class Child:
    """The worker process, restarted after a crash so that Hypothesis can go on shrinking."""

    def __init__(self):
        self.worker = Worker()

    def call(self, name, *args, **kwargs):
        try:
            return self.worker.call(name, *args, **kwargs)
        except ChildCrashed as crash:
            self.worker.close()
            self.worker = Worker()
            raise AssertionError("fastbp.%s crashed the process: %s; arguments %r %r"
                                 % (name, crash, args, kwargs)) from None


@pytest.fixture(scope="module")
def child():
    child = Child()
    yield child
    child.worker.close()


def judged(entry, answer, call_description):
    """-> the result of an answer that is one; count the outcome; fail on an undocumented exception."""
    if answer[0] == "result":
        OUTCOMES[(entry, "result")] += 1
        return answer[1]
    _, name, mro, message, trace, _ = answer
    OUTCOMES[(entry, name)] += 1
    assert any(kind in mro for kind in DOCUMENTED), (
        "%s raised an undocumented %s: %s\n%s\n%s" % (entry, name, message, call_description, trace))
    assert message, "%s raised %s without a message" % (entry, name)
    return None


# ---------------------------------------------------------------- strategies

# Values: mostly ordinary, with the special ones often enough to matter.
SPECIAL = [np.nan, np.inf, -np.inf, 1e300, -1e300, 0.0, -0.0, 5e-324, 3.4e38]
values = st.one_of(st.floats(-10, 10, allow_nan=False), st.floats(-10, 10, allow_nan=False),
                   st.floats(-10, 10, allow_nan=False), st.sampled_from(SPECIAL))
# Values a valid input may hold (huge and subnormal ones included).
finite_values = st.one_of(st.floats(-10, 10, allow_nan=False), st.floats(-10, 10, allow_nan=False),
                          st.floats(-10, 10, allow_nan=False), st.sampled_from([1e300, -1e300, 0.0, 5e-324]))
ARRAY_KINDS = ["float64"] * 6 + ["float32"] * 2 + ["int64", "int8", "uint8", "bool", "complex128", "object",
                                                   "str", "datetime64[s]", "float16"]
VALID_ARRAY_KINDS = ["float64", "float64", "float32", "int64"]
# An input is generated valid, with one part possibly broken, or broken anywhere:
# broken parts alone would hardly ever reach the kernels.
MODES = ["valid", "valid", "one broken", "broken"]


def breakage(data, parts):
    """-> broken(part): whether that part of this input may be broken."""
    mode = data.draw(st.sampled_from(MODES), "mode")
    broken_part = data.draw(st.sampled_from(parts), "the part broken in 'one broken' mode")
    return lambda part: mode == "broken" or (mode == "one broken" and part == broken_part)


def cast(array, kind):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "str":
            return array.astype(str)
        if kind == "datetime64[s]":
            return np.zeros(array.shape, dtype=kind)
        if kind == "bool":
            return array > 0
        if kind in ("int64", "int8", "uint8"):
            return np.nan_to_num(array, posinf=0, neginf=0).clip(-100, 100).astype(kind)
        return array.astype(kind)


@st.composite
def data_arrays(draw, num_rows=None, num_columns=None, valid=False):
    """X: (N, D) real numbers when valid; otherwise any dtype, shape or values."""
    if valid:
        num_rows = draw(st.integers(1, 24)) if num_rows is None else num_rows
        num_columns = draw(st.integers(1, 4)) if num_columns is None else num_columns
        array = draw(hnp.arrays(np.float64, (num_rows, num_columns), elements=finite_values))
        return cast(array, draw(st.sampled_from(VALID_ARRAY_KINDS)))
    num_rows = draw(st.integers(0, 24)) if num_rows is None else num_rows
    num_columns = draw(st.integers(0, 4)) if num_columns is None else num_columns
    shape = draw(st.sampled_from([(num_rows, num_columns)] * 8 + [(num_rows,), (num_rows, num_columns, 1), ()]))
    array = draw(hnp.arrays(np.float64, shape, elements=values))
    return cast(array, draw(st.sampled_from(ARRAY_KINDS)))


@st.composite
def labels(draw, num_rows, valid=False, every_class=False):
    """y: integer labels 0..C-1 (as integers or whole floats) when valid, every class present when asked;
    otherwise other dtypes, lengths or values too."""
    num_classes = draw(st.integers(1 if not every_class else max(1, min(2, num_rows)), max(1, min(4, num_rows))))
    y = np.array(draw(st.lists(st.integers(0, num_classes - 1), min_size=num_rows, max_size=num_rows)),
                 dtype=np.int64)
    if every_class and num_rows:
        y[:num_classes] = np.arange(num_classes)
        y = y[np.argsort(draw(st.permutations(range(num_rows))))]
    changes = ["none"] * 3 + ["whole floats"] if valid else (
        ["none"] * 6 + ["whole floats", "halves", "nan", "negative", "huge", "bool", "str", "2-D", "short", "long",
                        "object", "complex"])
    change = draw(st.sampled_from(changes))
    with np.errstate(all="ignore"):
        if change == "whole floats":
            return y.astype(draw(st.sampled_from([np.float64, np.float32])))
        if change == "halves":
            return y + 0.5
        if change == "nan" and num_rows:
            y = y.astype(float)
            y[0] = np.nan
        if change == "negative" and num_rows:
            y[-1] = -1
        if change == "huge" and num_rows:
            y[-1] = draw(st.sampled_from([2**31, 2**40, 10**18]))
        if change == "bool":
            return y > 0
        if change == "str":
            return y.astype(str)
        if change == "2-D":
            return y[:, None]
        if change == "short":
            return y[:-1]
        if change == "long":
            return np.append(y, 0)
        if change == "object":
            return y.astype(object)
        if change == "complex":
            return y + 0j
    return y


valid_hidden_sizes = st.sampled_from([1, 2, 3, 5, (2, 2), (3, 1, 2)])
hidden_sizes = st.sampled_from([1, 2, 3, 5, 3, 2, (2, 2), (3, 1, 2), 0, (3, 0), (), -1, 2.5, "3", True,
                                (10**5, 10**5)])
valid_training_options = st.fixed_dictionaries({
    "num_passes": st.sampled_from([0, 1, 2, 5, 20, 60]),
    "epsilon": st.sampled_from([0.01, 0.01, 0.1, 1.0, 30.0, 1e3, 1e6]),
    "reg_lambda": st.sampled_from([0.01, 0.0, 1.0]),
    "seed": st.sampled_from([0, 1, 2**32 - 1]),
    "backend": st.sampled_from(["cython", "cython", "numpy"]),
    "loss_every": st.sampled_from([0, 1, 3]),
    "activation": st.sampled_from(["tanh", "sigmoid", "relu"]),
    "batch_size": st.sampled_from([None, None, 1, 3]),
    "schedule": st.sampled_from(["constant", "step", "inverse"]),
    "num_threads": st.sampled_from([None, 1, 2]),
    "dtype": st.sampled_from(["float64", "float64", "float32"]),
    "on_divergence": st.sampled_from(["raise", "warn"]),
})
training_options = st.fixed_dictionaries({
    "num_passes": st.sampled_from([0, 1, 2, 5, 20, 60, -1, 1.5]),
    "epsilon": st.sampled_from([0.01, 0.01, 0.1, 1.0, 30.0, 1e3, 1e6, 1e300, 0.0, -1.0, np.nan, "0.01"]),
    "reg_lambda": st.sampled_from([0.01, 0.0, 1.0, 1e300, -1.0, np.inf]),
    "seed": st.sampled_from([0, 1, 2**32 - 1, -1, 2**32]),
    "backend": st.sampled_from(["cython", "cython", "cython", "numpy", "torch"]),
    "loss_every": st.sampled_from([0, 1, 3]),
    "activation": st.sampled_from(["tanh", "tanh", "sigmoid", "relu", "softplus"]),
    "batch_size": st.sampled_from([None, None, 1, 3, 7, 0, 1000]),
    "schedule": st.sampled_from(["constant", "constant", "step", "inverse", "bogus"]),
    "num_threads": st.sampled_from([None, 1, 2, 0]),
    "dtype": st.sampled_from(["float64", "float64", "float32", "float16"]),
    "on_divergence": st.sampled_from(["raise", "raise", "warn", "ignore"]),
})


# The probabilities of a row add up to 1 but for the rounding of C terms.
SUM_RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}
# Values up to this size are compared with the reference. With weights of 1e300 a
# sum can cancel to anything within the rounding of its terms (1e284): whether
# the product uses fused multiply-adds (NumPy's BLAS may, the kernels never do)
# then decides the result, and both are right.
MODERATE = 10.0


def moderate(model, X):
    arrays = [np.asarray(value, dtype=float) for name, value in model.items() if name != "activation"]
    return all(np.all(np.abs(array) <= MODERATE) for array in arrays + [np.asarray(X, dtype=float)])


def assert_close(actual, expected, dtype, what):
    np.testing.assert_allclose(actual, expected, rtol=RTOL[np.dtype(dtype)], atol=ATOL[np.dtype(dtype)],
                               err_msg=what)


def as_float_labels_free(y):
    """The labels a valid call used, as intp (whole floats included)."""
    return np.asarray(y).astype(np.intp)


# ---------------------------------------------------------------- train

def check_training_result(run, X, y, hidden, options):
    """A run's model has the layer sizes asked for, finite weights, and losses where they were asked for."""
    y = as_float_labels_free(y)
    hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    sizes = (np.shape(X)[1],) + hidden + (int(y.max()) + 1,)
    dtype = np.dtype(options["dtype"])
    for l in range(1, len(sizes)):
        assert run.model["W%d" % l].shape == (sizes[l - 1], sizes[l]) and run.model["W%d" % l].dtype == dtype
        assert run.model["b%d" % l].shape == (1, sizes[l])
        assert np.isfinite(run.model["W%d" % l]).all() and np.isfinite(run.model["b%d" % l]).all()
    assert np.isfinite(run.losses).all()
    passes = options["num_passes"] if run.diverged_at is None else run.diverged_at
    expected_passes = np.arange(0, passes, options["loss_every"]) if options["loss_every"] else []
    np.testing.assert_array_equal(run.loss_passes, expected_passes)


@settings(max_examples=EXAMPLES["train"], **FUZZ_SETTINGS)
@given(data=st.data())
def test_train(child, data):
    broken = breakage(data, ["X", "y", "hidden", "options"])
    X = data.draw(data_arrays(valid=not broken("X")), "X")
    y = data.draw(labels(X.shape[0] if X.ndim else 0, valid=not broken("y"), every_class=True), "y")
    hidden = data.draw(hidden_sizes if broken("hidden") else valid_hidden_sizes, "hidden")
    options = data.draw(training_options if broken("options") else valid_training_options, "options")
    if options["batch_size"] is not None and options["batch_size"] > (np.shape(X) or (0,))[0] and not broken("options"):
        options["batch_size"] = None
    description = "train(X=%r, y=%r, hidden=%r, **%r)" % (X, y, hidden, options)
    run = judged("train", child.call("train", X, y, hidden, **options), description)
    if run is None:
        return
    check_training_result(run, X, y, hidden, options)
    if run.diverged_at is not None:
        assert options["on_divergence"] == "warn"
    # The other backend must take the same input: a result, or divergence (whose pass
    # may differ: near overflow the backends' last-bit differences decide it).
    other = dict(options, backend="numpy" if options["backend"] == "cython" else "cython")
    answer = child.call("train", X, y, hidden, **other)
    assert answer[0] == "result" or (answer[1] == "DivergenceError" and options["on_divergence"] == "raise"), (
        "only the %s backend raised %s: %s\n%s" % (other["backend"], answer[1], answer[3], description))
    if options["epsilon"] <= MAX_COMPARED_EPSILON and moderate({}, X):
        # One pass of each backend computes the same numbers but for the last bits of the
        # vectorised tanh and exp (docs/numerics.md); over many passes such bits can grow
        # along flat directions of the loss (duplicated features, say), so one pass is compared.
        one_pass = {backend: child.call("train", X, y, hidden, **dict(options, backend=backend, num_passes=1))
                    for backend in ("cython", "numpy")}
        if all(answer[0] == "result" for answer in one_pass.values()):
            compiled, numpy_run = one_pass["cython"][1].model, one_pass["numpy"][1].model
            for name in compiled:
                if name != "activation":
                    scale = max(1.0, float(np.abs(numpy_run[name]).max()))
                    np.testing.assert_allclose(compiled[name], numpy_run[name], rtol=RTOL[np.dtype(options["dtype"])],
                                               atol=ATOL[np.dtype(options["dtype"])] * scale, err_msg=description)


# ---------------------------------------------------------------- predict, predict_proba, calculate_loss

@st.composite
def models(draw, valid=False):
    """A model dict: layers D, H.., C of float64 or float32 when valid; otherwise broken in some way."""
    num_inputs = draw(st.integers(1, 3))
    sizes = [num_inputs] + draw(st.lists(st.integers(1, 4), min_size=1, max_size=2)) + [draw(st.integers(1, 3))]
    dtype = draw(st.sampled_from([np.float64, np.float64, np.float32]))
    model = {}
    for l in range(1, len(sizes)):
        elements = finite_values if valid else values
        with np.errstate(over="ignore"):  # 1e300 in a float32 model is infinite: refused, as it should be
            model["W%d" % l] = draw(hnp.arrays(np.float64, (sizes[l - 1], sizes[l]), elements=elements)).astype(dtype)
            model["b%d" % l] = draw(hnp.arrays(np.float64, (1, sizes[l]), elements=elements)).astype(dtype)
    change = draw(st.sampled_from(["none", "activation"] if valid else
                                  ["none"] * 6 + ["activation", "bad activation", "drop b1", "transpose W1",
                                                  "zero width", "int", "complex", "float16", "mixed", "extra key",
                                                  "list"]))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if change == "activation":
            model["activation"] = draw(st.sampled_from(["sigmoid", "relu", "tanh"]))
        elif change == "bad activation":
            model["activation"] = 3
        elif change == "drop b1":
            del model["b1"]
        elif change == "transpose W1":
            model["W1"] = model["W1"].T
        elif change == "zero width":
            model["W1"], model["b1"] = model["W1"][:, :0], model["b1"][:, :0]
        elif change in ("int", "complex", "float16"):
            kind = {"int": "int64", "complex": "complex128", "float16": "float16"}[change]
            model = {name: cast(value, kind) for name, value in model.items()}
        elif change == "mixed":
            model["b1"] = model["b1"].astype(np.float32 if dtype == np.float64 else np.float64)
        elif change == "extra key":
            model["W0"] = model["W1"]
        elif change == "list":
            return list(model.items())
    return model


def reference_inputs(model, X):
    """The model and X in the model's precision, as the kernels see them (valid inputs only)."""
    arrays = {name: np.asarray(value) for name, value in model.items() if name != "activation"}
    dtype = np.float32 if any(a.dtype == np.float32 for a in arrays.values()) else np.float64
    converted = {name: value.astype(dtype) for name, value in arrays.items()}
    if "activation" in model:
        converted["activation"] = model["activation"]
    return converted, np.asarray(X).astype(dtype), np.dtype(dtype)


@settings(max_examples=EXAMPLES["predict"], **FUZZ_SETTINGS)
@given(data=st.data())
def test_predict_proba_and_predict(child, data):
    broken = breakage(data, ["model", "X"])
    model = data.draw(models(valid=not broken("model")), "model")
    num_inputs = np.shape(model["W1"])[0] if isinstance(model, dict) and "W1" in model else 2
    if broken("X"):
        num_inputs = data.draw(st.sampled_from([num_inputs] * 5 + [num_inputs + 1]))
    X = data.draw(data_arrays(num_columns=num_inputs, valid=not broken("X")), "X")
    description = "predict_proba(model=%r, X=%r)" % (model, X)
    probabilities = judged("predict_proba", child.call("predict_proba", model, X), description)
    predicted = judged("predict", child.call("predict", model, X), description)
    assert (probabilities is None) == (predicted is None), description
    if probabilities is None:
        return
    model, X, dtype = reference_inputs(model, X)
    with np.errstate(all="ignore"):
        expected = reference.predict_proba(model, X)
    assert probabilities.shape == expected.shape and probabilities.dtype == dtype
    assert np.all((probabilities >= 0) & (probabilities <= 1)), description
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=SUM_RTOL[dtype], err_msg=description)
    if moderate(model, X):
        assert_close(probabilities, expected, dtype, description)
    np.testing.assert_array_equal(predicted, np.argmax(probabilities, axis=1))


@settings(max_examples=EXAMPLES["calculate_loss"], **FUZZ_SETTINGS)
@given(data=st.data())
def test_calculate_loss(child, data):
    broken = breakage(data, ["model", "X", "y", "reg_lambda"])
    model = data.draw(models(valid=not broken("model")), "model")
    num_inputs = np.shape(model["W1"])[0] if isinstance(model, dict) and "W1" in model else 2
    X = data.draw(data_arrays(num_columns=num_inputs, valid=not broken("X")), "X")
    y = data.draw(labels(X.shape[0] if X.ndim else 0, valid=not broken("y")), "y")
    if not broken("y") and isinstance(model, dict) and "W1" in model and len(y):
        y = y % np.shape(model["W%d" % (len(model) // 2)])[1]  # labels within the output layer
    reg_lambda = data.draw(st.sampled_from([0.01, 0.0, 2.0] + ([-1.0, np.nan] if broken("reg_lambda") else [])),
                           "reg_lambda")
    description = "calculate_loss(model=%r, X=%r, y=%r, reg_lambda=%r)" % (model, X, y, reg_lambda)
    loss = judged("calculate_loss", child.call("calculate_loss", model, X, y, reg_lambda), description)
    if loss is None:
        return
    assert isinstance(loss, float) and not np.isnan(loss) and loss >= 0, description
    model, X, dtype = reference_inputs(model, X)
    with np.errstate(all="ignore"):
        expected = reference.calculate_loss(model, X, as_float_labels_free(y), reg_lambda)
    if moderate(model, X):
        # the loss sums in float64 (src/layers.pxd); the bound is that of the probabilities it adds up
        np.testing.assert_allclose(loss, expected, rtol=RTOL[dtype] * 10, atol=ATOL[dtype] * 10,
                                   err_msg=description)


# ---------------------------------------------------------------- the estimator

@settings(max_examples=EXAMPLES["estimator"], **FUZZ_SETTINGS)
@given(data=st.data())
def test_estimator(child, data):
    broken = breakage(data, ["X", "y", "params"])
    X = data.draw(data_arrays(valid=not broken("X")), "X")
    y = data.draw(labels(X.shape[0] if X.ndim else 0, valid=not broken("y"), every_class=True), "y")
    params = data.draw(st.fixed_dictionaries({
        "hidden_layer_sizes": st.sampled_from([(3,), 2, (2, 2)]
                                              + ([0, (), (10**5, 10**5)] if broken("params") else [])),
        "activation": st.sampled_from(["tanh", "logistic", "relu"] + (["identity"] if broken("params") else [])),
        "learning_rate_init": st.sampled_from([2.0, 0.1, 1e8] + ([-1.0] if broken("params") else [])),
        "max_iter": st.sampled_from([1, 5, 30]),
        "batch_size": st.sampled_from([None, "auto", 3]),
        "dtype": st.sampled_from(["float64", "float32"]),
        "random_state": st.just(0),
    }), "params")
    description = "LectureClassifier(**%r).fit(X=%r, y=%r)" % (params, X, y)
    fitted = judged("LectureClassifier", child.call("estimator", X, y, **params), description)
    if fitted is None:
        return
    assert set(np.unique(fitted["predicted"])) <= set(fitted["classes"].tolist()), description
    np.testing.assert_allclose(fitted["probabilities"].sum(axis=1), 1, rtol=1e-4)


def test_a_crash_fails_the_test_instead_of_killing_pytest(child):
    with pytest.raises(AssertionError, match="crashed the process: the child process died"):
        child.call("abort_for_test")
    assert child.call("predict", {"W1": np.ones((1, 1)), "b1": np.zeros((1, 1)), "W2": np.ones((1, 2)),
                                  "b2": np.zeros((1, 2))}, np.ones((1, 1)))[0] == "result"  # a new child took over


def test_report_the_outcomes(capsys):
    """The counts of generated inputs and their outcomes (run last in this file)."""
    report_outcomes("test_fuzz", OUTCOMES, capsys)
    calls = sum(OUTCOMES.values())
    assert calls >= sum(EXAMPLES.values()), "fewer calls than generated inputs: %s" % OUTCOMES
    # the inputs reach the kernels: a good share of every entry point's calls returns a result
    for entry in ("train", "predict_proba", "calculate_loss", "LectureClassifier"):
        assert OUTCOMES[(entry, "result")] >= 10, OUTCOMES
