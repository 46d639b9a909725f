"""The lecture's network as a scikit-learn classifier: :class:`LectureClassifier`.

``LectureClassifier(random_state=0).fit(X, y)`` is ``fastbp.build_model(X, y, 3)``
bit for bit (``FastBPClassifier.lecture()`` is the same object). For
scikit-learn's own MLPClassifier, with its defaults and its results, use
:class:`fastbp.FastBPClassifier`.

Parameters that :class:`sklearn.neural_network.MLPClassifier` also has mean
exactly what they mean there, so settings carry over; the others have names of
their own. The mapping onto :func:`fastbp.train`, derived from scikit-learn's
``_multilayer_perceptron.py``:

scikit-learn's objective on a batch of B samples is the mean cross-entropy
plus ``alpha / (2 B) * sum ||W||^2``; its gradient is ``(sum over the batch of
the data gradients + alpha * W) / B``, and plain SGD (momentum 0) steps
``W -= learning_rate_init * gradient``. fastbp's step is
``W -= epsilon * (sum of the data gradients + reg_lambda * (B / N) * W)``.
The two are the same update when

    epsilon    = learning_rate_init / B
    reg_lambda = alpha * N / B

so with full batches (B = N, the default) ``reg_lambda = alpha`` exactly, and
``epsilon = learning_rate_init / N``, computed as that division: the defaults
``learning_rate_init=2.0``, ``alpha=0.01`` on the lecture's 200 samples give
the lecture's ``epsilon = 0.01`` and ``reg_lambda = 0.01`` bit for bit, and
the lecture's loss ``(sum CE + reg_lambda/2 * sum ||W||^2) / N`` is
scikit-learn's full-batch loss. With minibatches the update is
scikit-learn's when B divides N; otherwise its shorter last batch steps with
``learning_rate_init / B`` for the data term and the epoch's weight decay is
one full batch's, where scikit-learn divides both by the last batch's size.
(scikit-learn also draws its own sample order.)

One difference of model remains: for two classes scikit-learn uses one
logistic output unit, fastbp the lecture's two-unit softmax, so their weights
agree only for three classes or more.
"""

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import reference, schedules, trainer

# scikit-learn's activation names -> fastbp's
ACTIVATIONS = {"tanh": "tanh", "logistic": "sigmoid", "relu": "relu"}


class LectureClassifier(ClassifierMixin, BaseEstimator):
    """The lecture's network (tanh hidden layers, softmax output, full-batch
    gradient descent) with scikit-learn's interface.

    hidden_layer_sizes, activation ("tanh", "logistic", "relu"), alpha,
    learning_rate_init, max_iter, batch_size ("auto", an int, or None for full
    batches), random_state, verbose, warm_start: as in MLPClassifier with
    ``solver="sgd", momentum=0, learning_rate="constant"``; see the module's
    docstring for the exact mapping. Every fit runs all ``max_iter`` passes
    (there is no early stopping, so no ``tol``).
    schedule: fastbp's step-size schedule ("constant", "step", "exponential",
        "inverse", or a fastbp.schedules object), restarted by every call to
        fit or partial_fit.
    num_threads: threads of the compiled kernels (None: fastbp's default);
        the result does not depend on it.
    dtype: "float64" (the default) or "float32": the precision of the
        weights and of every computation (fastbp.train's dtype); X is
        converted to it once per call.

    ``LectureClassifier(random_state=0).fit(X, y)`` on the lecture's data gives
    exactly ``fastbp.build_model(X, y, 3)``. Fitted attributes: classes_,
    n_features_in_ (and feature_names_in_), coefs_, intercepts_, n_layers_,
    n_iter_ (passes so far), loss_curve_ (the lecture's loss after each pass,
    i.e. scikit-learn's full-batch loss_curve_ shifted by one pass: it records
    the loss before each pass), loss_ (its last value).
    """

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "schedule": [StrOptions(set(schedules.SCHEDULES)), HasMethods(["rates"])],
        "num_threads": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "dtype": [StrOptions({"float64", "float32"})],
    }

    def __init__(self, hidden_layer_sizes=(3,), activation="tanh", *, alpha=0.01, learning_rate_init=2.0,
                 max_iter=20000, batch_size=None, random_state=None, verbose=False, warm_start=False,
                 schedule="constant", num_threads=None, dtype="float64"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.alpha = alpha
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.schedule = schedule
        self.num_threads = num_threads
        self.dtype = dtype

    # ------------------------------------------------------------ fitting

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train for max_iter passes: from the lecture's initialisation (seeded
        by random_state), or, with warm_start, from the weights of the last fit."""
        continuing = self.warm_start and hasattr(self, "coefs_")
        X, y = self._validate_training_data(X, y, reset=not continuing)
        if continuing:
            labels = unique_labels(y)
            if not np.isin(labels, self.classes_).all():
                raise ValueError("warm_start can only be used where y has the classes of the previous fit "
                                 "%s; got %s" % (self.classes_.tolist(), labels.tolist()))
        else:
            self.classes_ = unique_labels(y)
            if len(self.classes_) < 2:
                raise ValueError("y has one class, %r; the classifier needs samples of at least 2 classes"
                                 % (self.classes_[0],))
            self._start_fresh(X.shape[1])
        return self._train(X, y, self.max_iter)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """One pass over (X, y). The first call needs ``classes``, every label
        that any call will see; later calls continue from the current weights."""
        first_call = not hasattr(self, "coefs_")
        if first_call:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            X, y = self._validate_training_data(X, y, reset=True)
            self.classes_ = unique_labels(classes)
            if len(self.classes_) < 2:
                raise ValueError("classes has one class; the classifier needs at least 2")
            self._start_fresh(X.shape[1])
        else:
            if classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
                raise ValueError("classes %s differ from those of the first call %s"
                                 % (unique_labels(classes).tolist(), self.classes_.tolist()))
            X, y = self._validate_training_data(X, y, reset=False)
        unknown = np.setdiff1d(unique_labels(y), self.classes_)
        if len(unknown):
            raise ValueError("y has labels %s that are not in classes %s" % (unknown.tolist(), self.classes_.tolist()))
        return self._train(X, y, 1)

    def _validate_training_data(self, X, y, reset):
        X, y = validate_data(self, X, y, reset=reset, dtype=np.dtype(self.dtype), order="C", y_numeric=False)
        check_classification_targets(y)
        return X, y

    def _start_fresh(self, num_features):
        sizes = (num_features,) + self._hidden() + (len(self.classes_),)
        self._seed = self._draw_seed()
        trainer.check_model_memory(sizes)
        model = reference.init_params(sizes, self._seed, np.dtype(self.dtype))
        self._set_weights(model)
        self.n_iter_ = 0
        self.loss_curve_ = []

    def _draw_seed(self):
        """An int random_state is the lecture's seed itself; None or a RandomState draws one."""
        if isinstance(self.random_state, numbers.Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _hidden(self):
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, numbers.Integral) else tuple(sizes)
        if len(sizes) == 0 or not all(isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1
                                      for h in sizes):
            raise ValueError("hidden_layer_sizes must be a positive integer or a non-empty sequence of them, "
                             "got %r" % (self.hidden_layer_sizes,))
        return tuple(int(h) for h in sizes)

    def _batch_size(self, num_samples):
        """-> B, as MLPClassifier: "auto" is min(200, N); a size above N is clipped to N."""
        if self.batch_size is None:
            return num_samples
        if self.batch_size == "auto":
            return min(200, num_samples)
        if self.batch_size > num_samples:
            warnings.warn("Got `batch_size` larger than sample size. It is going to be clipped", stacklevel=2)
        return min(self.batch_size, num_samples)

    def _train(self, X, y, passes):
        num_samples = len(X)
        batch = self._batch_size(num_samples)
        # The mapping of the module docstring; with B = N the division leaves
        # learning_rate_init / N, and reg_lambda is alpha itself.
        epsilon = self.learning_rate_init / batch
        reg_lambda = self.alpha if batch == num_samples else self.alpha * num_samples / batch
        # Minibatch orders of successive calls must differ, so the shuffling seed moves on with n_iter_.
        seed = (self._seed + self.n_iter_) % (trainer.MAX_SEED + 1)
        run = trainer.train(X, np.searchsorted(self.classes_, y), self._hidden(), num_passes=passes,
                            epsilon=epsilon, reg_lambda=reg_lambda, seed=seed, loss_every=1,
                            print_loss=bool(self.verbose), activation=ACTIVATIONS[self.activation],
                            batch_size=None if batch == num_samples else batch, schedule=self.schedule,
                            num_threads=self.num_threads, progress=bool(self.verbose),
                            initial_model=self._model(), dtype=self.dtype)
        self._set_weights(run.model)
        self.n_iter_ += passes
        self.loss_curve_.extend(float(loss) for loss in run.losses)
        self.loss_ = self.loss_curve_[-1]
        return self

    def _set_weights(self, model):
        num_layers = reference.num_layers(model)
        self.coefs_ = [np.array(model["W%d" % l]) for l in range(1, num_layers + 1)]
        self.intercepts_ = [np.array(model["b%d" % l]).ravel() for l in range(1, num_layers + 1)]
        self.n_layers_ = num_layers + 1

    def _model(self):
        """The fitted weights as a fastbp model dict (W1..WL, b1..bL as (1, K) rows, activation)."""
        model = {}
        for l, (W, b) in enumerate(zip(self.coefs_, self.intercepts_), start=1):
            model["W%d" % l], model["b%d" % l] = W, b.reshape(1, -1)
        if self.activation != "tanh":
            model["activation"] = ACTIVATIONS[self.activation]
        return model

    @property
    def model_(self):
        """The fitted network as a model dict for :func:`fastbp.predict` and friends."""
        check_is_fitted(self, "coefs_")
        return {name: np.copy(value) if name != "activation" else value for name, value in self._model().items()}

    # ------------------------------------------------------------ model files

    def saved_state(self):
        """What a model file keeps of a fitted classifier (fastbp.save): a dict of
        ``model`` (the weights), ``classes``, ``loss_curve``, ``feature_names_in``
        (or None), and the JSON-ready ``parameters`` (get_params, with the
        hidden sizes as a list, a schedule object as its name and attributes,
        a RandomState object as None) and ``state`` (what continuing needs)."""
        check_is_fitted(self, "coefs_")
        parameters = self.get_params()
        parameters["hidden_layer_sizes"] = list(self._hidden())
        random_state = parameters["random_state"]
        parameters["random_state"] = int(random_state) if isinstance(random_state, numbers.Integral) else None
        parameters["schedule"] = _schedule_to_json(parameters["schedule"])
        return {"model": self.model_, "classes": self.classes_, "loss_curve": list(self.loss_curve_),
                "feature_names_in": getattr(self, "feature_names_in_", None), "parameters": parameters,
                "state": {"n_iter": int(self.n_iter_), "seed": int(self._seed),
                          "n_features_in": int(self.n_features_in_)}}

    @classmethod
    def from_saved_state(cls, model, classes, loss_curve, feature_names_in, parameters, state):
        """The fitted classifier that saved_state described; raises ValueError,
        TypeError or KeyError if the pieces do not fit together."""
        parameters = dict(parameters)
        parameters["hidden_layer_sizes"] = tuple(parameters["hidden_layer_sizes"])
        if isinstance(parameters["schedule"], dict):
            schedule = parameters["schedule"]
            parameters["schedule"] = schedules.SCHEDULES[schedule["name"]](**schedule["attributes"])
        classifier = cls(**parameters)
        classifier._validate_params()
        sizes = [model["W1"].shape[0]] + [model["W%d" % l].shape[1] for l in range(1, reference.num_layers(model) + 1)]
        if len(classes) != sizes[-1] or classes.ndim != 1:
            raise ValueError("%d classes for a network of %d outputs" % (len(classes), sizes[-1]))
        if state["n_features_in"] != sizes[0]:
            raise ValueError("n_features_in %r for a network of %d inputs" % (state["n_features_in"], sizes[0]))
        classifier.classes_ = classes
        classifier._set_weights(model)
        classifier.n_features_in_ = int(state["n_features_in"])
        if feature_names_in is not None:
            classifier.feature_names_in_ = feature_names_in.astype(object)
        classifier.n_iter_ = int(state["n_iter"])
        classifier._seed = int(state["seed"])
        classifier.loss_curve_ = list(loss_curve)
        if classifier.loss_curve_:
            classifier.loss_ = classifier.loss_curve_[-1]
        return classifier

    # ------------------------------------------------------------ predicting

    def predict_proba(self, X):
        """Class probabilities, (N, number of classes), columns in classes_ order."""
        check_is_fitted(self, "coefs_")
        X = validate_data(self, X, reset=False, dtype=self.coefs_[0].dtype, order="C")
        return trainer.predict_proba(self._model(), X, self.num_threads)

    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))

    def predict(self, X):
        probabilities = self.predict_proba(X)  # first: it raises NotFittedError before fit
        return self.classes_[np.argmax(probabilities, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.multi_label = False
        return tags


def _schedule_to_json(schedule):
    if isinstance(schedule, str):
        return schedule
    for name, cls in schedules.SCHEDULES.items():
        if type(schedule) is cls:
            return {"name": name, "attributes": dict(vars(schedule))}
    raise ValueError("the classifier's schedule %r is not one of fastbp's; a model file can carry only "
                     "those (%s)" % (schedule, sorted(schedules.SCHEDULES)))
