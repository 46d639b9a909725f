"""The lecture's backprop exercise: fill in the lines that compute dW2, db2, delta2, dW1 and db1.

The arguments are the values the lecture's training loop has at this point:

    X (N,D) the data, y (N,) the labels 0..C-1,
    W1 (D,H), b1 (1,H), W2 (H,C), b2 (1,C) the model,
    a1 (N,H) = tanh(X.dot(W1) + b1), the hidden activations,
    probs (N,C) = softmax(a1.dot(W2) + b2), the predicted probabilities,
    reg_lambda the regularisation strength.

Return the gradients of the loss summed over the N samples (not averaged), each
with the shape of what it is the gradient of; delta2 (N,H) is optional but helps
find a mistake. ``fastbp check --template my_backprop.py`` writes this file out
for you to fill in; check your work with

    fastbp check my_backprop.py

which runs your function on small random problems and names the gradients that
are wrong, and, where it recognises one, the mistake.
"""

import numpy as np  # noqa: F401 (the student's code uses it)


def backprop(X, y, W1, b1, W2, b2, a1, probs, reg_lambda):
    num_examples = len(X)

    # Backpropagation
    delta3 = probs
    delta3[range(num_examples), y] -= 1

    # update the code below to compute dW2, db2, delta2, dW1 and db1
    dW2 = 0
    db2 = 0
    delta2 = 0
    dW1 = 0
    db1 = 0

    # Add regularization terms (b1 and b2 don't have regularization terms)
    dW2 += reg_lambda * W2
    dW1 += reg_lambda * W1

    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2, "delta2": delta2}
