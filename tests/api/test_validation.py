"""Bad input raises a ValueError or TypeError naming the argument; every
accepted layout and dtype gives the result of the float64 C-ordered input.

With bounds checks off in the kernels, these checks are the only guard.
"""

import numpy as np
import pytest

import fastbp

PASSES = 50  # enough to exercise every kernel; conversions happen before the first pass


@pytest.fixture(scope="module")
def moons():
    return fastbp.datasets.make_moons(40, noise=0.20, seed=0)


@pytest.fixture(scope="module")
def model(moons):
    X, y = moons
    return fastbp.build_model(X, y, 3, num_passes=PASSES)


def X_with_nan(X):
    X = X.copy()
    X[3, 1] = np.nan
    return X


def X_with_inf(X):
    X = X.copy()
    X[0, 0] = np.inf
    return X


BAD_TRAINING_INPUTS = [
    # (description, how to change (X, y, kwargs), exception, argument named in the message)
    ("X 1-D", lambda X, y, kw: (X[:, 0], y, kw), ValueError, "X"),
    ("X 3-D", lambda X, y, kw: (X[:, :, None], y, kw), ValueError, "X"),
    ("X empty", lambda X, y, kw: (X[:0], y[:0], kw), ValueError, "X"),
    ("X no features", lambda X, y, kw: (X[:, :0], y, kw), ValueError, "X"),
    ("X NaN", lambda X, y, kw: (X_with_nan(X), y, kw), ValueError, "X"),
    ("X inf", lambda X, y, kw: (X_with_inf(X), y, kw), ValueError, "X"),
    ("X strings", lambda X, y, kw: (X.astype(str), y, kw), TypeError, "X"),
    ("X complex", lambda X, y, kw: (X + 1j, y, kw), TypeError, "X"),
    ("X ragged list", lambda X, y, kw: ([[1.0, 2.0], [3.0]], y[:2], kw), ValueError, "X"),
    ("y 2-D", lambda X, y, kw: (X, y[:, None], kw), ValueError, "y"),
    ("y too short", lambda X, y, kw: (X, y[:-1], kw), ValueError, "y"),
    ("y non-integer floats", lambda X, y, kw: (X, y + 0.5, kw), ValueError, "y"),
    ("y strings", lambda X, y, kw: (X, y.astype(str), kw), TypeError, "y"),
    ("y negative", lambda X, y, kw: (X, np.where(y == 0, -1, y), kw), ValueError, "y"),
    ("y one class", lambda X, y, kw: (X, np.zeros_like(y), kw), ValueError, "y"),
    ("y class missing", lambda X, y, kw: (X, 2 * y, kw), ValueError, "y"),
    ("nn_hdim 0", lambda X, y, kw: (X, y, dict(kw, nn_hdim=0)), ValueError, "nn_hdim"),
    ("nn_hdim -3", lambda X, y, kw: (X, y, dict(kw, nn_hdim=-3)), ValueError, "nn_hdim"),
    ("nn_hdim 2.5", lambda X, y, kw: (X, y, dict(kw, nn_hdim=2.5)), TypeError, "nn_hdim"),
    ("nn_hdim True", lambda X, y, kw: (X, y, dict(kw, nn_hdim=True)), TypeError, "nn_hdim"),
    ("nn_hdim '3'", lambda X, y, kw: (X, y, dict(kw, nn_hdim="3")), TypeError, "nn_hdim"),
    ("num_passes -1", lambda X, y, kw: (X, y, dict(kw, num_passes=-1)), ValueError, "num_passes"),
    ("num_passes 1.5", lambda X, y, kw: (X, y, dict(kw, num_passes=1.5)), TypeError, "num_passes"),
    ("epsilon 0", lambda X, y, kw: (X, y, dict(kw, epsilon=0)), ValueError, "epsilon"),
    ("epsilon -0.1", lambda X, y, kw: (X, y, dict(kw, epsilon=-0.1)), ValueError, "epsilon"),
    ("epsilon nan", lambda X, y, kw: (X, y, dict(kw, epsilon=float("nan"))), ValueError, "epsilon"),
    ("epsilon inf", lambda X, y, kw: (X, y, dict(kw, epsilon=float("inf"))), ValueError, "epsilon"),
    ("epsilon '0.01'", lambda X, y, kw: (X, y, dict(kw, epsilon="0.01")), TypeError, "epsilon"),
    ("reg_lambda -1", lambda X, y, kw: (X, y, dict(kw, reg_lambda=-1.0)), ValueError, "reg_lambda"),
    ("reg_lambda inf", lambda X, y, kw: (X, y, dict(kw, reg_lambda=float("inf"))), ValueError, "reg_lambda"),
    ("seed -1", lambda X, y, kw: (X, y, dict(kw, seed=-1)), ValueError, "seed"),
    ("seed 2**32", lambda X, y, kw: (X, y, dict(kw, seed=fastbp.trainer.MAX_SEED + 1)), ValueError, "seed"),
    ("backend", lambda X, y, kw: (X, y, dict(kw, backend="torch")), ValueError, "backend"),
]


@pytest.mark.parametrize("description,change,error,argument", BAD_TRAINING_INPUTS,
                         ids=[case[0] for case in BAD_TRAINING_INPUTS])
def test_bad_training_input(moons, description, change, error, argument):
    X, y, kwargs = change(*moons, {"nn_hdim": 3, "num_passes": PASSES})
    with pytest.raises(error, match=r"\b%s\b" % argument):
        fastbp.build_model(X, y, **kwargs)


def drop(model, key):
    return {k: v for k, v in model.items() if k != key}


def replace(model, key, value):
    return dict(model, **{key: value})


BAD_MODELS = [
    ("not a dict", lambda m: list(m.values()), TypeError, "model"),
    ("missing b2", lambda m: drop(m, "b2"), ValueError, "b2"),
    ("missing W1", lambda m: drop(m, "W1"), ValueError, "W1"),
    ("extra key", lambda m: replace(m, "W9x", m["W1"]), ValueError, "W9x"),
    ("W2 rows", lambda m: replace(m, "W2", np.ones((4, 2))), ValueError, "W2"),
    ("b1 shape", lambda m: replace(m, "b1", np.ones(3)), ValueError, "b1"),
    ("b2 width", lambda m: replace(m, "b2", np.ones((1, 3))), ValueError, "b2"),
    ("W1 NaN", lambda m: replace(m, "W1", np.full((2, 3), np.nan)), ValueError, "W1"),
]


@pytest.mark.parametrize("description,change,error,argument", BAD_MODELS, ids=[case[0] for case in BAD_MODELS])
@pytest.mark.parametrize("function", ["predict", "predict_proba", "calculate_loss"])
def test_bad_model(moons, model, description, change, error, argument, function):
    X, y = moons
    args = (X, y) if function == "calculate_loss" else (X,)
    with pytest.raises(error, match=argument):
        getattr(fastbp, function)(change(model), *args)


@pytest.mark.parametrize("bad_X", [X_with_nan, X_with_inf])
@pytest.mark.parametrize("function", ["predict", "predict_proba", "calculate_loss"])
def test_X_with_a_non_finite_value_for_a_trained_model(moons, model, function, bad_X):
    X, y = moons
    args = (bad_X(X), y) if function == "calculate_loss" else (bad_X(X),)
    with pytest.raises(ValueError, match=r"\bX\b"):
        getattr(fastbp, function)(model, *args)


def test_the_largest_seed_is_accepted(moons):
    # RandomState's own limit, 2**32 - 1: expected, what np.random.seed(MAX_SEED) draws
    X, y = moons
    model = fastbp.build_model(X, y, 3, num_passes=0, seed=fastbp.trainer.MAX_SEED)
    np.random.seed(fastbp.trainer.MAX_SEED)
    np.testing.assert_array_equal(model["W1"], np.random.randn(2, 3) / np.sqrt(2))


@pytest.mark.parametrize("function", ["predict", "predict_proba", "calculate_loss"])
def test_X_of_the_wrong_width_for_the_model(moons, model, function):
    X, y = moons
    wide = np.hstack([X, X])
    args = (wide, y) if function == "calculate_loss" else (wide,)
    with pytest.raises(ValueError, match=r"\bX\b.*4 features.*expects 2"):
        getattr(fastbp, function)(model, *args)


def test_loss_labels_beyond_the_models_classes(moons, model):
    X, y = moons
    with pytest.raises(ValueError, match=r"\by\b"):
        fastbp.calculate_loss(model, X, np.full_like(y, 2))


def layouts(X, y):
    """Inputs the API must accept, each with the float64 C-ordered X and int y it stands for."""
    fortran = np.asfortranarray(X)
    strided = np.repeat(X, 2, axis=0)[::2]
    read_only = X.copy()
    read_only.setflags(write=False)
    read_only_y = y.copy()
    read_only_y.setflags(write=False)
    X32 = X.astype(np.float32)
    X_int = np.round(X * 10).astype(np.int64)
    return [
        ("fortran", fortran, y, X),
        ("strided", strided, np.repeat(y, 2)[::2], X),
        ("read-only", read_only, read_only_y, X),
        ("lists", X.tolist(), y.tolist(), X),
        ("float32", X32, y.astype(np.int8), X32.astype(np.float64)),
        ("int", X_int, y.astype(np.uint16), X_int.astype(np.float64)),
    ]


@pytest.mark.parametrize("index", range(6), ids=["fortran", "strided", "read-only", "lists", "float32", "int"])
def test_accepted_layouts_give_the_c_ordered_float64_result(moons, index):
    X, y = moons
    _, X_given, y_given, X_float64 = layouts(X, y)[index]
    expected = fastbp.build_model(np.ascontiguousarray(X_float64), y, 3, num_passes=PASSES)
    got = fastbp.build_model(X_given, y_given, 3, num_passes=PASSES)
    for name in expected:
        # identical arithmetic after one conversion: exactly equal
        np.testing.assert_array_equal(got[name], expected[name])
    np.testing.assert_array_equal(fastbp.predict(got, X_given), fastbp.predict(expected, X_float64))
    assert fastbp.calculate_loss(got, X_given, y_given) == fastbp.calculate_loss(expected, X_float64, y)


def test_the_callers_arrays_are_not_modified(moons):
    X, y = moons
    X_before, y_before = X.copy(), y.copy()
    model = fastbp.build_model(X, y, 3, num_passes=PASSES)
    model_before = {k: v.copy() for k, v in model.items()}
    fastbp.predict(model, X)
    fastbp.calculate_loss(model, X, y)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)
    for name in model:
        np.testing.assert_array_equal(model[name], model_before[name])


@pytest.mark.parametrize("num_threads, error", [(0, ValueError), (-2, ValueError), ("2", TypeError),
                                                (2.0, TypeError), (True, TypeError)])
def test_bad_num_threads_is_refused_by_name(moons, num_threads, error):
    X, y = moons
    model = fastbp.build_model(X, y, 3, num_passes=1)
    calls = [lambda: fastbp.train(X, y, 3, num_passes=1, num_threads=num_threads),
             lambda: fastbp.predict_proba(model, X, num_threads=num_threads),
             lambda: fastbp.calculate_loss(model, X, y, num_threads=num_threads)]
    for call in calls:
        with pytest.raises(error, match="num_threads"):
            call()


def test_an_unknown_kernel_path_is_refused(moons, monkeypatch):
    X, y = moons
    monkeypatch.setenv("FASTBP_KERNELS", "sse9")
    with pytest.raises(ValueError, match="FASTBP_KERNELS must be one of baseline, avx2, avx512, got 'sse9'"):
        fastbp.train(X, y, 3, num_passes=1)
