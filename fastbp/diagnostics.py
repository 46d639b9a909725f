"""Stability diagnostics: is gradient descent at this step size able to settle?

Full-batch gradient descent with step epsilon on the summed loss is stable near
a minimum only while the largest eigenvalue of the Hessian of the summed loss,
the *sharpness*, stays below 2/epsilon (see docs/numerics.md). :func:`sharpness`
measures it; :func:`classify_run` says what the losses of a run actually did.

Shapes use the letters of :mod:`fastbp.reference`: N samples, D inputs,
H hidden units, C classes; a dense layer maps J inputs to K outputs.
"""

import numpy as np

from . import _validation as check
from . import reference

# ---------------------------------------------------------------- Hessian-vector product

# Each hidden activation's second derivative, written like reference's backward functions from
# the forward output a, as a multiple of its first: f''(z) = f'(z) * curvature(a).


def tanh_curvature(a):
    """a is (N,K) -> (N,K): tanh'' = -2 tanh (1 - tanh**2) = tanh' * (-2 a)."""
    return -2 * a


def sigmoid_curvature(a):
    """a is (N,K) -> (N,K): sigmoid'' = sigmoid' * (1 - 2 sigmoid) = sigmoid' * (1 - 2 a)."""
    return 1 - 2 * a


def relu_curvature(a):
    """a is (N,K) -> 0: relu is linear on each side of z = 0, so relu'' = 0 wherever it exists.

    At z = 0 relu' jumps and relu'' does not exist; like relu_backward (relu' = 0
    there), the Hessian is then that of the piece the unit is off on. A ReLU network's
    loss is smooth between such kinks, and this is its Hessian there.
    """
    return np.zeros_like(a)


CURVATURES = {"tanh": tanh_curvature, "sigmoid": sigmoid_curvature, "relu": relu_curvature}


def hessian_vector_product(model, X, y, reg_lambda, direction):
    """H v for the summed loss (sum of -log p[y] + reg_lambda/2 * sum |Wl|^2) of a
    network with tanh, sigmoid or ReLU hidden layers (reference.ACTIVATIONS).

    direction: a dict of the model's shapes (the vector v, one array per
    parameter) -> dict of the same shapes (H v).

    Exact, by Pearlmutter's R-operator: R{f} = d/dr f(params + r v) at r = 0,
    pushed forward through the network and back through the lecture's
    backprop. No step size is involved, so the only error is rounding: H v
    agrees with a central difference of :func:`reference.gradients` to the
    difference's own truncation error (tests/api/test_diagnostics.py). Like the
    reference, it assumes validated input; :func:`sharpness` validates.
    """
    num_layers = reference.num_layers(model)
    outputs = reference.forward(model, X)
    activation = reference.activation_of(model)
    _, activation_backward = reference.ACTIVATIONS[activation]
    curvature = CURVATURES[activation]

    # R-forward. Forward: z = inp.dot(W) + b, a = f(z).
    # R{z} = R{inp}.dot(W) + inp.dot(V) + c, with R{X} = 0; R{a} = f'(z) * R{z}.
    r_outputs = []
    r_inp = None
    inp = X
    for l in range(1, num_layers + 1):
        W, V, c = model["W%d" % l], direction["W%d" % l], direction["b%d" % l]
        r_z = reference.dense_forward(inp, V, c)
        if r_inp is not None:
            r_z += r_inp.dot(W)
        inp = outputs[l - 1]
        r_inp = activation_backward(r_z, inp) if l < num_layers else r_z
        r_outputs.append(r_inp)

    # R-backward of the loss gradient. Forward: delta = probs - onehot(y), probs = softmax(z).
    # R{probs} = probs * R{z} - probs * sum(probs * R{z}) (the softmax Jacobian times R{z}).
    probs = reference.softmax_forward(outputs[-1])
    delta = reference.softmax_cross_entropy_backward(probs, y)
    r_delta = probs * (r_outputs[-1] - np.sum(probs * r_outputs[-1], axis=1, keepdims=True))
    product = {}
    for l in range(num_layers, 0, -1):
        W, V = model["W%d" % l], direction["W%d" % l]
        inp = outputs[l - 2] if l > 1 else X
        # Forward: dW = inp.T.dot(delta) + reg_lambda * W, db = sum(delta).
        product["W%d" % l], product["b%d" % l] = reference.dense_backward(r_delta, inp)
        product["W%d" % l] += reg_lambda * V
        if l > 1:
            r_inp = r_outputs[l - 2]
            product["W%d" % l] += reference.dense_backward(delta, r_inp)[0]
            # Forward: delta_prev = delta.dot(W.T) * f'(z), inp = f(z) of the layer below.
            # R{delta_prev} = R{delta.dot(W.T)} * f'(z) + delta.dot(W.T) * f''(z) * R{z}, and
            # f''(z) * R{z} = curvature(inp) * f'(z) * R{z} = curvature(inp) * R{inp}.
            dinp = reference.dense_backward_input(delta, W)
            r_dinp = reference.dense_backward_input(r_delta, W) + reference.dense_backward_input(delta, V)
            r_delta = activation_backward(r_dinp, inp) + dinp * curvature(inp) * r_inp
            delta = activation_backward(dinp, inp)
    return product


# ---------------------------------------------------------------- largest eigenvalue

# Power iteration stops once the residual |A v - lambda v| is below this fraction
# of |lambda|. Then lambda is within the residual of an eigenvalue of A
# (symmetric A), and, converging from a random start, of the largest one; the
# Rayleigh quotient's own error is of the order of the residual squared over the
# eigenvalue gap, far below what 2/epsilon comparisons need.
EIGEN_RESIDUAL_RTOL = 1e-6
# The residual shrinks by lambda2/lambda1 per iteration: this many iterations
# reach EIGEN_RESIDUAL_RTOL for a gap between the two largest eigenvalues down to
# ~0.1%. The lecture's networks need a few hundred at most.
MAX_POWER_ITERATIONS = 20000


def _power_iteration(matvec, start, max_iterations):
    """-> (Rayleigh quotient, converged, largest |A v| seen) for the dominant eigenvalue of A."""
    vector = start / np.linalg.norm(start)
    largest_image = 0.0
    value = 0.0
    for _ in range(max_iterations):
        image = matvec(vector)
        value = float(vector.dot(image))
        image_norm = float(np.linalg.norm(image))
        largest_image = max(largest_image, image_norm)
        if image_norm == 0.0:
            return 0.0, True, 0.0
        if np.linalg.norm(image - value * vector) <= EIGEN_RESIDUAL_RTOL * abs(value):
            return value, True, largest_image
        vector = image / image_norm
    return value, False, largest_image


def largest_eigenvalue(matvec, size, seed=0, max_iterations=MAX_POWER_ITERATIONS):
    """Largest *algebraic* eigenvalue of a symmetric operator, by power iteration.

    matvec: v (size,) -> A v. Power iteration finds the eigenvalue of largest
    magnitude. If that one is positive it is also the largest algebraic one.
    Otherwise (a Hessian away from a minimum can have a dominant negative
    eigenvalue, or a negative one as large as the positive one, in which case
    the plain iteration never settles) the iteration is repeated on the shifted
    operator A + s I, with s the spectral radius as estimated by the first
    run: its eigenvalues lambda + s are all >= about 0, so its dominant one is
    lambda_max + s. Raises ArithmeticError if neither run converges within
    max_iterations.
    """
    size = check.check_int(size, "size", 1)
    start = np.random.RandomState(seed).randn(size)
    value, converged, radius = _power_iteration(matvec, start, max_iterations)
    if converged and value >= 0:
        return value
    shifted_value, converged, _ = _power_iteration(lambda v: matvec(v) + radius * v, start, max_iterations)
    if not converged:
        raise ArithmeticError("power iteration did not converge in %d iterations" % max_iterations)
    return shifted_value - radius


def sharpness(model, X, y, reg_lambda=0.01, seed=0):
    """Largest eigenvalue of the Hessian of the summed loss (N * calculate_loss).

    Gradient descent ``param += -epsilon * grad`` on that loss is stable near a
    minimum only while sharpness < 2/epsilon. Computed by power iteration
    (:func:`largest_eigenvalue`) on exact Hessian-vector products
    (:func:`hessian_vector_product`); ``seed`` fixes the random start vector.
    For a ReLU network it is the Hessian of the smooth piece the weights are on
    (relu'' = 0 wherever it exists; see :func:`relu_curvature`).
    """
    model, sizes = check.check_model(model)
    X = check.check_X(X)
    check.check_X_fits(X, sizes)
    y = check.check_y(y, len(X))
    check.check_labels_fit(y, sizes[-1])
    reg_lambda = check.check_real(reg_lambda, "reg_lambda", positive=False)
    matvec, size = _flat_operator(model, lambda direction: hessian_vector_product(model, X, y, reg_lambda, direction))
    return largest_eigenvalue(matvec, size, seed)


def _flat_operator(model, product):
    """-> (matvec on flat vectors, their size) for ``product``, a map of dicts of the model's shapes."""
    names = reference.parameter_names(reference.num_layers(model))
    shapes = [model[name].shape for name in names]
    bounds = np.cumsum([0] + [model[name].size for name in names])

    def matvec(flat_direction):
        direction = {name: flat_direction[start:stop].reshape(shape)
                     for name, shape, start, stop in zip(names, shapes, bounds[:-1], bounds[1:])}
        image = product(direction)
        return np.concatenate([image[name].ravel() for name in names])

    return matvec, int(bounds[-1])


# ---------------------------------------------------------------- a step size that trains

# The suggested step keeps the run's largest step at STEP_MARGIN times the
# stability limit 2/sharpness of the starting point: training raises the
# sharpness (to about 2/epsilon at the lecture's step, the "edge of stability"),
# and a first step at the limit itself can throw the network far off.
STEP_MARGIN = 0.5
# The sharpness of the summed loss grows in proportion to N: it is estimated on
# at most this many evenly spaced samples and scaled by N/n, so that the advice
# costs a fraction of a second whatever the data.
ADVICE_SAMPLES = 1000
# Power iteration for the advice: a few percent of error in the sharpness moves
# the suggestion by as much, well inside STEP_MARGIN.
ADVICE_POWER_ITERATIONS = 500

# value / power is computed with rounding (0.3 / 0.1 = 2.9999999999999996): this
# relative slack keeps a value on a digit there, far below a digit's width.
ROUND_DOWN_SLACK = 1e-12


def _round_down(value):
    """value rounded down to one significant digit: 0.0123 -> 0.01, 0.0678 -> 0.06."""
    exponent = int(np.floor(np.log10(value)))
    digit = int(np.floor(value / 10.0 ** exponent * (1 + ROUND_DOWN_SLACK)))
    return float("%de%d" % (digit, exponent))  # the decimal itself: 3 * 0.1 would be 0.30000000000000004


def suggest_epsilon(model, X, y, reg_lambda, epsilon, largest_step=None):
    """-> a step size to suggest after training from ``model`` at ``epsilon``
    diverged: the run's steps scaled so that the largest (``largest_step``, for
    a schedule; epsilon if None) is STEP_MARGIN * 2/sharpness of the summed
    loss at ``model``, rounded down to one significant digit, and below epsilon.

    The sharpness is estimated on at most ADVICE_SAMPLES evenly spaced samples,
    by exact Hessian-vector products. Like the reference, it assumes
    validated input (train calls it); a sharpness that cannot be estimated
    gives epsilon / 10.
    """
    largest_step = epsilon if largest_step is None else largest_step
    model = {name: np.asarray(value, dtype=np.float64) if name != "activation" else value
             for name, value in model.items()}
    stride = max(1, -(-len(X) // ADVICE_SAMPLES))
    X_sample, y_sample = np.asarray(X[::stride], dtype=np.float64), np.asarray(y[::stride])
    matvec, size = _flat_operator(
        model, lambda direction: hessian_vector_product(model, X_sample, y_sample, reg_lambda, direction))
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            sampled = largest_eigenvalue(matvec, size, max_iterations=ADVICE_POWER_ITERATIONS)
    except ArithmeticError:
        return epsilon / 10
    curvature = sampled * len(X) / len(X_sample)
    if not np.isfinite(curvature) or curvature <= 0:
        return epsilon / 10
    suggested = _round_down(epsilon * (STEP_MARGIN * 2 / curvature) / largest_step)
    return suggested if suggested < epsilon else _round_down(epsilon / 2)


# ---------------------------------------------------------------- what the run did

CONVERGED = "converged"
PERIOD_2 = "period-2 cycle"
IRREGULAR = "irregular"
TOO_SHORT = "too short to classify"

# A loss of N terms carries a rounding error of about N ulp (4e-14 relative for
# the lecture's N = 200); a rise smaller than this is rounding, not dynamics.
LOSS_ROUNDING_RTOL = 1e-12
# A period-2 cycle: the losses on even and on odd passes each drift by less than
# this fraction of the gap between the two. On the lecture's cycles (H = 1, 3)
# the drift is ~1e-4 of the gap over 2000 passes; on its irregular runs, 1e2 and more.
PHASE_DRIFT_OF_GAP = 0.1
MIN_LOSSES = 8  # fewer cannot show a pattern repeating
# Passes to classify at the end of a run: the lecture's H = 2 run descends
# smoothly for ~1200 passes between two spikes, so a shorter window can miss them.
CLASSIFY_WINDOW = 2000
# A shorter run's last CLASSIFY_WINDOW passes still show how it got to where it
# ends, which is not what it does there: the lecture's H = 3 run spikes until
# pass ~1800 and then locks into its 2-cycle, whose two phases still drift until
# ~3600; its last 2000 of 5600 passes are the first to read period-2, of fewer
# irregular. :func:`classify_end` calls a shorter run too short to classify.
MIN_CLASSIFIED_PASSES = 3 * CLASSIFY_WINDOW


def classify_run(losses):
    """What gradient descent did, from the losses at the end of a run.

    losses: the loss after each of the last passes, in order. Recording every
    s-th pass for an odd s is equally good: a period-2 cycle still alternates.
    The window must be long enough to show an irregular run misbehaving: take
    the last CLASSIFY_WINDOW passes.

    -> ``"converged"``: the loss never rises (beyond rounding): GD is in its
    stable regime, descending onto a fixed point;
    ``"period-2 cycle"``: the losses alternate between two values, each
    drifting by less than PHASE_DRIFT_OF_GAP of the gap between them;
    ``"irregular"``: anything else, a NaN or infinite loss included.
    """
    losses = np.asarray(losses, dtype=np.float64)
    if losses.ndim != 1 or len(losses) < MIN_LOSSES:
        raise ValueError("losses must be a 1-D sequence of at least %d losses, got shape %s"
                         % (MIN_LOSSES, losses.shape))
    if not np.all(np.isfinite(losses)):
        return IRREGULAR
    rounding = LOSS_ROUNDING_RTOL * np.mean(np.abs(losses))
    if np.all(np.diff(losses) <= rounding):
        return CONVERGED
    even, odd = losses[0::2], losses[1::2]
    gap = abs(even.mean() - odd.mean())
    drift = max(np.ptp(even), np.ptp(odd))
    if gap > rounding and drift < PHASE_DRIFT_OF_GAP * gap:
        return PERIOD_2
    return IRREGULAR


def classify_end(loss_passes, losses, num_passes):
    """:func:`classify_run` on the losses recorded in the last CLASSIFY_WINDOW of
    ``num_passes`` passes (losses[k] is the loss after pass loss_passes[k]);
    ``"too short to classify"`` for a run shorter than MIN_CLASSIFIED_PASSES."""
    num_passes = check.check_int(num_passes, "num_passes", 1)
    if num_passes < MIN_CLASSIFIED_PASSES:
        return TOO_SHORT
    window = np.asarray(loss_passes) >= num_passes - CLASSIFY_WINDOW
    return classify_run(np.asarray(losses)[window])
