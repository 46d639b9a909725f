"""A fitted FastBPClassifier's or FastBPRegressor's state as arrays and
JSON-ready values, and back: what fastbp.save and fastbp.load write and read
(BaseFastBP.saved_state and from_saved_state call these).

What is kept: the parameters (get_params), every fitted attribute
(coefs_ and intercepts_ in their dtype, n_iter_, t_, loss_, loss_curve_,
best_loss_, validation_scores_, best_validation_score_, n_layers_, n_outputs_,
out_activation_, n_features_in_, feature_names_in_, classes_ and the label
binarizer's state), and what continuing to train reads: the stochastic
optimiser's state (SGD's velocities and current learning rate, which an
"adaptive" or "invscaling" schedule has changed; Adam's two moments and its
step count t), the stall count, the best weights of early stopping, and, when
random_state is a numpy RandomState, that generator's state. So a loaded
estimator predicts the same bits, and fit (warm_start) or partial_fit go on to
the same bits as the estimator saved would.

What is not kept: random_state=None draws from NumPy's global generator, whose
state belongs to the process (as with the estimator never saved); an integer
random_state is reseeded at every fit anyway. Without early stopping the best
weights are never read, and a loaded estimator holds copies of its weights there.
"""

import numbers

import numpy as np
from sklearn.preprocessing import LabelBinarizer

from . import _optimizers, _params

# Fitted scalars, with the type each must have: present ones are saved, and
# restored only if present (an lbfgs fit has no best_loss_, for one).
SCALAR_ATTRIBUTES = {
    "n_features_in_": int, "n_iter_": int, "t_": int, "n_layers_": int, "n_outputs_": int,
    "out_activation_": str, "loss_": float, "best_loss_": (float, None), "best_validation_score_": (float, None),
    "_no_improvement_count": int,
}
SGD_STATE = ("learning_rate_init", "learning_rate", "schedule", "momentum", "nesterov", "power_t")
ADAM_STATE = ("learning_rate_init", "learning_rate", "beta_1", "beta_2", "epsilon", "t")


def saved_state(estimator):
    """-> (arrays, description): the numeric arrays by name, and a JSON-ready dict
    of "parameters" (get_params) and "state" (everything else)."""
    parameters, arrays = _parameters_to_json(estimator.get_params())
    L = len(estimator.coefs_)
    for l in range(L):
        arrays["coef_%d" % l] = estimator.coefs_[l]
        arrays["intercept_%d" % l] = estimator.intercepts_[l]
    state = {"attributes": {}}
    for name, kind in SCALAR_ATTRIBUTES.items():
        if hasattr(estimator, name):
            value = getattr(estimator, name)
            state["attributes"][name] = None if value is None else (int(value) if kind is int else
                                                                   str(value) if kind is str else float(value))
    for name in ("loss_curve_", "validation_scores_"):
        if hasattr(estimator, name):
            value = getattr(estimator, name)
            state["attributes"][name] = None if value is None else "array"
            if value is not None:
                arrays[name[:-1]] = np.asarray(value, dtype=np.float64)
    if getattr(estimator, "feature_names_in_", None) is not None:
        arrays["feature_names_in"] = np.asarray(estimator.feature_names_in_).astype(str)
    state["best_weights"] = _best_weights(estimator, arrays)
    state["optimizer"] = _optimizer_state(getattr(estimator, "_optimizer", None), arrays)
    if hasattr(estimator, "_label_binarizer"):
        binarizer = estimator._label_binarizer
        state["label_binarizer"] = {"y_type": binarizer.y_type_, "sparse_input": bool(binarizer.sparse_input_)}
        arrays["classes"] = _text_or_numbers(estimator.classes_, "classes_")
    return arrays, {"parameters": parameters, "state": state}


def _parameters_to_json(parameters):
    """get_params -> (JSON-ready parameters, arrays): hidden_layer_sizes as
    {"int"|"list"|"tuple": ...} so that get_params comes back equal; a
    RandomState's state as arrays plus a JSON entry."""
    parameters, arrays = dict(parameters), {}
    for name, value in parameters.items():
        if name == "hidden_layer_sizes":
            kind = "int" if isinstance(value, numbers.Integral) else "list" if isinstance(value, list) else "tuple"
            parameters[name] = {kind: int(value) if kind == "int" else [int(size) for size in value]}
        elif name == "random_state" and isinstance(value, np.random.RandomState):
            algorithm, key, position, has_gauss, cached_gaussian = value.get_state()
            arrays["random_state_key"] = key
            parameters[name] = {"RandomState": {"algorithm": algorithm, "pos": int(position),
                                                "has_gauss": int(has_gauss), "cached_gaussian": cached_gaussian}}
        elif isinstance(value, (bool, str, type(None))):
            pass
        elif isinstance(value, numbers.Integral):
            parameters[name] = int(value)
        elif isinstance(value, numbers.Real):
            parameters[name] = float(value)
        else:
            raise ValueError("the estimator's parameter %s=%r cannot be saved in a model file (numbers, strings, "
                             "booleans, None and a numpy RandomState can)" % (name, value))
    return parameters, arrays


def _best_weights(estimator, arrays):
    """-> how the best weights of early stopping are kept: "aliased" (they are
    coefs_ and intercepts_, as after a fit with early stopping), "saved", or
    "unused" (no early stopping: nothing reads them)."""
    if estimator._best_coefs is estimator.coefs_ and estimator._best_intercepts is estimator.intercepts_:
        return "aliased"
    if not estimator.early_stopping:
        return "unused"
    for l, (W, b) in enumerate(zip(estimator._best_coefs, estimator._best_intercepts)):
        arrays["best_coef_%d" % l], arrays["best_intercept_%d" % l] = W, b
    return "saved"


def _optimizer_state(optimizer, arrays):
    if optimizer is None:
        return None
    if isinstance(optimizer, _optimizers.SGD):
        arrays["optimizer_velocities"] = optimizer.velocity_buffer
        return {"kind": "sgd", **{name: _json_number(getattr(optimizer, name)) for name in SGD_STATE}}
    arrays["optimizer_m"], arrays["optimizer_v"] = optimizer.m_buffer, optimizer.v_buffer
    return {"kind": "adam", **{name: _json_number(getattr(optimizer, name)) for name in ADAM_STATE}}


def _json_number(value):
    if isinstance(value, (bool, str)):
        return value
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _text_or_numbers(values, what):
    array = np.asarray(values)
    if array.dtype.kind == "O":
        if not all(isinstance(value, str) for value in array.ravel()):
            raise ValueError("%s mix types or hold objects; a model file stores numbers, booleans or text" % what)
        array = array.astype(str)
    return array


# ---------------------------------------------------------------- restoring

def restore(cls, arrays, description):
    """The fitted estimator that saved_state described. Raises ValueError (or
    TypeError, KeyError) if the pieces do not fit together."""
    parameters, state = dict(description["parameters"]), description["state"]
    arrays = dict(arrays)
    random_state = _parameters_from_json(parameters, arrays)
    estimator = cls(**parameters)
    estimator._validate_params()
    estimator.random_state = random_state if random_state is not None else estimator.random_state
    expected = _expected_arrays(estimator, state, arrays)
    if set(arrays) != expected:
        raise ValueError("a %s has the arrays %s, this one %s" % (cls.__name__, sorted(expected), sorted(arrays)))
    L = sum(name.startswith("coef_") for name in arrays)
    estimator.coefs_ = [_array(arrays, "coef_%d" % l, "f", 2) for l in range(L)]
    estimator.intercepts_ = [_array(arrays, "intercept_%d" % l, "f", 1) for l in range(L)]
    layer_units = _check_layers(estimator)
    for name, value in state["attributes"].items():
        if name in ("loss_curve_", "validation_scores_"):
            setattr(estimator, name, None if value is None else _array(arrays, name[:-1], "f", 1).tolist())
        else:
            setattr(estimator, name, _typed(name, value))
    if "feature_names_in" in arrays:
        names = _array(arrays, "feature_names_in", "U", 1)
        if len(names) != layer_units[0]:
            raise ValueError("%d feature names for a network of %d inputs" % (len(names), layer_units[0]))
        estimator.feature_names_in_ = names.astype(object)
    _check_fitted(estimator, state, layer_units)
    _restore_best_weights(estimator, state["best_weights"], arrays)
    _restore_optimizer(estimator, state["optimizer"], arrays)
    if estimator._is_classifier():
        _restore_label_binarizer(estimator, state["label_binarizer"], arrays["classes"])
    elif "label_binarizer" in state:
        raise ValueError("a regressor has no label binarizer")
    if estimator.out_activation_ != estimator._output_activation():
        raise ValueError("out_activation_ %r, where the estimator's targets make it %r"
                         % (estimator.out_activation_, estimator._output_activation()))
    return estimator


def _parameters_from_json(parameters, arrays):
    """Undo _parameters_to_json in place -> the RandomState saved, or None."""
    (kind, sizes), = parameters["hidden_layer_sizes"].items()
    parameters["hidden_layer_sizes"] = {"int": int, "list": list, "tuple": tuple}[kind](sizes)
    random_state = parameters.get("random_state")
    if not isinstance(random_state, dict):
        return None
    saved = random_state["RandomState"]
    key = arrays.pop("random_state_key")
    if key.dtype != np.uint32 or key.shape != (624,):
        raise ValueError("random_state_key has dtype %s and shape %s, not uint32 (624,)" % (key.dtype, key.shape))
    generator = np.random.RandomState()
    generator.set_state((saved["algorithm"], key, int(saved["pos"]), int(saved["has_gauss"]),
                         float(saved["cached_gaussian"])))
    parameters["random_state"] = None
    return generator


def _expected_arrays(estimator, state, arrays):
    L = sum(name.startswith("coef_") for name in arrays)
    names = {"coef_%d" % l for l in range(L)} | {"intercept_%d" % l for l in range(L)}
    names |= {"feature_names_in"} & set(arrays)
    names |= {name[:-1] for name in ("loss_curve_", "validation_scores_")
              if state["attributes"].get(name, None) is not None}
    if state["best_weights"] == "saved":
        names |= {"best_coef_%d" % l for l in range(L)} | {"best_intercept_%d" % l for l in range(L)}
    optimizer = state["optimizer"]
    if optimizer is not None:
        names |= {"optimizer_velocities"} if optimizer["kind"] == "sgd" else {"optimizer_m", "optimizer_v"}
    if estimator._is_classifier():
        names.add("classes")
    return names


def _array(arrays, name, kinds, ndim):
    array = arrays[name]
    if array.dtype.kind not in kinds or array.ndim != ndim:
        raise ValueError("%s has dtype %s and %d dimensions, not %s of %d" % (name, array.dtype, array.ndim,
                                                                             kinds, ndim))
    return array


def _check_layers(estimator):
    """The weights chain into a network of the parameters' hidden sizes, in one dtype -> its layer units."""
    coefs, intercepts = estimator.coefs_, estimator.intercepts_
    if not coefs:
        raise ValueError("no weights")
    layer_units = [coefs[0].shape[0]] + [W.shape[1] for W in coefs]
    for l, (W, b) in enumerate(zip(coefs, intercepts)):
        if W.shape[0] != layer_units[l] or b.shape != (W.shape[1],):
            raise ValueError("layer %d's weights %s and biases %s do not follow a layer of %d units"
                             % (l, W.shape, b.shape, layer_units[l]))
        if W.dtype not in (np.float32, np.float64) or W.dtype != coefs[0].dtype or b.dtype != W.dtype:
            raise ValueError("the weights and biases must all be float32 or all float64")
    if layer_units[1:-1] != _params.hidden_sizes(estimator.hidden_layer_sizes):
        raise ValueError("hidden layers of %s units, where hidden_layer_sizes is %r"
                         % (layer_units[1:-1], estimator.hidden_layer_sizes))
    return layer_units


def _typed(name, value):
    kind = SCALAR_ATTRIBUTES.get(name)
    if kind is None:
        raise ValueError("unknown attribute %r" % name)
    if value is None and isinstance(kind, tuple):
        return None
    kind = kind[0] if isinstance(kind, tuple) else kind
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError("attribute %s=%r is not of type %s" % (name, value, kind.__name__))
    return value


def _check_fitted(estimator, state, layer_units):
    for name in ("n_features_in_", "n_iter_", "t_", "n_layers_", "n_outputs_", "out_activation_"):
        if name not in state["attributes"]:
            raise ValueError("%s is missing" % name)
    if (estimator.n_features_in_, estimator.n_outputs_, estimator.n_layers_) != (layer_units[0], layer_units[-1],
                                                                                  len(layer_units)):
        raise ValueError("n_features_in_, n_outputs_ and n_layers_ are %s, the weights make them %s"
                         % ((estimator.n_features_in_, estimator.n_outputs_, estimator.n_layers_),
                            (layer_units[0], layer_units[-1], len(layer_units))))
    if min(estimator.n_iter_, estimator.t_) < 0:
        raise ValueError("negative n_iter_ or t_")


def _restore_best_weights(estimator, how, arrays):
    if how == "aliased":
        estimator._best_coefs, estimator._best_intercepts = estimator.coefs_, estimator.intercepts_
    elif how == "unused":
        estimator._best_coefs = [W.copy() for W in estimator.coefs_]
        estimator._best_intercepts = [b.copy() for b in estimator.intercepts_]
    elif how == "saved":
        L = len(estimator.coefs_)
        estimator._best_coefs = [arrays["best_coef_%d" % l] for l in range(L)]
        estimator._best_intercepts = [arrays["best_intercept_%d" % l] for l in range(L)]
        for best, current in zip(estimator._best_coefs + estimator._best_intercepts,
                                 estimator.coefs_ + estimator.intercepts_):
            if best.shape != current.shape or best.dtype != current.dtype:
                raise ValueError("the best weights are not shaped as the weights")
    else:
        raise ValueError("unknown best_weights %r" % (how,))


def _restore_optimizer(estimator, saved, arrays):
    if saved is None:
        return
    params = estimator.coefs_ + estimator.intercepts_
    if saved["kind"] == "sgd":
        optimizer = _optimizers.SGD(params, saved["learning_rate_init"], saved["schedule"], saved["momentum"],
                                    saved["nesterov"], saved["power_t"])
        buffers = {"velocity_buffer": arrays["optimizer_velocities"]}
    elif saved["kind"] == "adam":
        optimizer = _optimizers.Adam(params, saved["learning_rate_init"], saved["beta_1"], saved["beta_2"],
                                     saved["epsilon"])
        optimizer.t = _typed("n_iter_", saved["t"])
        buffers = {"m_buffer": arrays["optimizer_m"], "v_buffer": arrays["optimizer_v"]}
    else:
        raise ValueError("unknown optimizer %r" % (saved["kind"],))
    _check_optimizer_settings(optimizer, saved)
    optimizer.learning_rate = float(saved["learning_rate"])
    for name, buffer in buffers.items():
        zeros = getattr(optimizer, name)
        if buffer.shape != zeros.shape or buffer.dtype != zeros.dtype:
            raise ValueError("the optimizer's %s has dtype %s and shape %s, the weights need %s and %s"
                             % (name, buffer.dtype, buffer.shape, zeros.dtype, zeros.shape))
        setattr(optimizer, name, buffer.copy())
    estimator._optimizer = optimizer


def _check_optimizer_settings(optimizer, saved):
    """The settings a header carries unprotected by a digest: each of the type training needs."""
    for name in SGD_STATE + ADAM_STATE:
        if hasattr(optimizer, name):
            value = saved[name]
            if name == "schedule":
                valid = value in ("constant", "invscaling", "adaptive")
            elif name == "nesterov":
                valid = isinstance(value, bool)
            else:
                valid = isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
            if not valid:
                raise ValueError("the optimizer's %s=%r is not valid" % (name, value))


def _restore_label_binarizer(estimator, saved, classes):
    if classes.ndim != 1 or classes.dtype.kind not in "biufU":
        raise ValueError("classes must be one row of numbers, booleans or text")
    y_type = saved["y_type"]
    outputs = {"binary": 1, "multiclass": len(classes), "multilabel-indicator": len(classes)}[y_type]
    if (y_type == "binary") != (len(classes) <= 2) or outputs != estimator.n_outputs_:
        raise ValueError("%d classes (%s) for a network of %d outputs" % (len(classes), y_type,
                                                                          estimator.n_outputs_))
    binarizer = LabelBinarizer()
    binarizer.classes_, binarizer.y_type_ = classes, y_type
    binarizer.sparse_input_ = bool(saved["sparse_input"])
    estimator._label_binarizer = binarizer
    estimator.classes_ = classes
