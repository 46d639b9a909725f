"""The lecture's own NumPy code (the backprop lecture fastbp is built on), solved, as written.

This is the benchmark's "lecture NumPy code" contender: the notebook's
``calculate_loss`` and ``build_model`` kept line for line, reading the notebook's
globals (X, y, num_examples, nn_input_dim, nn_output_dim, epsilon,
reg_lambda), with the backpropagation gap filled in the standard way
(``dW2 = (a1.T).dot(delta3)`` ...). Only two things differ from the notebook:
the globals are set by :func:`setup` instead of a notebook cell, and the
input/output sizes come from the data (D and C) instead of being fixed at 2.
Nothing is made faster: no max-shift in softmax, ``range`` indexing, fresh
arrays every pass. It is deliberately distinct from fastbp's own NumPy
reference (``fastbp.train(..., backend="numpy")``).
"""

import numpy as np

X = y = None
num_examples = nn_input_dim = nn_output_dim = None
epsilon = 0.01  # learning rate for gradient descent
reg_lambda = 0.01  # regularization strength


def setup(X_, y_, epsilon_=0.01, reg_lambda_=0.01):
    """Set the notebook's globals for a data set (what its cells 2-3 do)."""
    global X, y, num_examples, nn_input_dim, nn_output_dim, epsilon, reg_lambda
    X, y = X_, y_
    num_examples = len(X)
    nn_input_dim = X.shape[1]
    nn_output_dim = int(y.max()) + 1
    epsilon, reg_lambda = epsilon_, reg_lambda_


# Helper function to evaluate the total loss on the dataset
def calculate_loss(model):
    W1, b1, W2, b2 = model['W1'], model['b1'], model['W2'], model['b2']
    # Forward propagation to calculate our predictions
    z1 = X.dot(W1) + b1
    a1 = np.tanh(z1)
    z2 = a1.dot(W2) + b2
    exp_scores = np.exp(z2)
    probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
    # Calculating the loss
    corect_logprobs = -np.log(probs[range(num_examples), y])
    data_loss = np.sum(corect_logprobs)
    # Add regulatization term to loss (optional)
    data_loss += reg_lambda/2 * (np.sum(np.square(W1)) + np.sum(np.square(W2)))
    return 1./num_examples * data_loss


# This function learns parameters for the neural network and returns the model.
# - nn_hdim: Number of nodes in the hidden layer
# - num_passes: Number of passes through the training data for gradient descent
# - print_loss: If True, print the loss every 1000 iterations
def build_model(nn_hdim, num_passes=20000, print_loss=False):
    # Initialize the parameters to random values. We need to learn these.
    np.random.seed(0)
    W1 = np.random.randn(nn_input_dim, nn_hdim) / np.sqrt(nn_input_dim)
    b1 = np.zeros((1, nn_hdim))
    W2 = np.random.randn(nn_hdim, nn_output_dim) / np.sqrt(nn_hdim)
    b2 = np.zeros((1, nn_output_dim))

    # This is what we return at the end
    model = {}

    # Gradient descent. For each batch...
    for i in range(0, num_passes):

        # Forward propagation
        z1 = X.dot(W1) + b1
        a1 = np.tanh(z1)
        z2 = a1.dot(W2) + b2
        exp_scores = np.exp(z2)
        probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)

        # Backpropagation
        delta3 = probs
        delta3[range(num_examples), y] -= 1
        dW2 = (a1.T).dot(delta3)
        db2 = np.sum(delta3, axis=0, keepdims=True)
        delta2 = delta3.dot(W2.T) * (1 - np.power(a1, 2))
        dW1 = np.dot(X.T, delta2)
        db1 = np.sum(delta2, axis=0)

        # Add regularization terms (b1 and b2 don't have regularization terms)
        dW2 += reg_lambda * W2
        dW1 += reg_lambda * W1

        # Gradient descent parameter update
        W1 += -epsilon * dW1
        b1 += -epsilon * db1
        W2 += -epsilon * dW2
        b2 += -epsilon * db2

        # Assign new parameters to the model
        model = {'W1': W1, 'b1': b1, 'W2': W2, 'b2': b2}

        # Optionally print the loss.
        # This is expensive because it uses the whole dataset, so we don't want to do it too often.
        if print_loss and i % 1000 == 0:
            print("Loss after iteration %i: %f" % (i, calculate_loss(model)))

    return model
