"""A correct solution to the lecture's backprop exercise, in the lecture's style.

Check it with ``fastbp check examples/backprop_solution.py``; the signature and
what each returned value means are documented in fastbp/exercise/__init__.py.
"""

import numpy as np


def backprop(X, y, W1, b1, W2, b2, a1, probs, reg_lambda):
    num_examples = len(X)

    # Backpropagation
    delta3 = probs
    delta3[range(num_examples), y] -= 1

    dW2 = (a1.T).dot(delta3)
    db2 = np.sum(delta3, axis=0, keepdims=True)
    delta2 = delta3.dot(W2.T) * (1 - np.power(a1, 2))
    dW1 = np.dot(X.T, delta2)
    db1 = np.sum(delta2, axis=0, keepdims=True)

    # Add regularization terms (b1 and b2 don't have regularization terms)
    dW2 += reg_lambda * W2
    dW1 += reg_lambda * W1

    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2, "delta2": delta2}
