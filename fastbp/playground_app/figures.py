"""The playground's pictures, as Bokeh figures redrawn from a training session's view.

Each picture is a class that makes its figure once and, on ``update``, puts
new arrays into the figure's data sources; Bokeh sends only those arrays to
the browser, which is what lets the page redraw many times a second.
"""

import numpy as np
from bokeh.models import ColumnDataSource, LinearColorMapper, Range1d
from bokeh.plotting import figure

from .. import reference
from ..trainer import predict_proba
from .data import features, grid

CLASS_COLOURS = np.array([[245, 147, 34], [8, 119, 189], [90, 160, 44]], dtype=np.float64)  # orange, blue, green
CLASS_HEX = ["#f59322", "#0877bd", "#5aa02c"]
NEGATIVE, POSITIVE = CLASS_COLOURS[0], CLASS_COLOURS[1]  # the sign of a weight or of a unit's output
BOUNDARY_RESOLUTION = 80  # grid points per side of the decision boundary's picture
UNIT_RESOLUTION = 32  # grid points per side of each unit's small picture
BOUNDARY_ALPHA = 0.55  # the picture's opacity under the points


def _rgba(rgb, alpha=1.0):
    """(..., 3) colours in 0..255 -> (...) uint32 RGBA as Bokeh's image_rgba reads them (little-endian)."""
    rgb = np.clip(np.rint(rgb), 0, 255).astype(np.uint32)
    return rgb[..., 0] | (rgb[..., 1] << 8) | (rgb[..., 2] << 16) | (np.uint32(round(255 * alpha)) << 24)


PALETTE_LEVELS = 256  # the unit pictures' colours: this many steps from orange through white to blue


def _diverging_palette():
    levels = np.linspace(-1.0, 1.0, PALETTE_LEVELS)[:, None]
    white = np.full(3, 255.0)
    return _rgba(np.where(levels < 0, white + (white - NEGATIVE) * levels, white + (POSITIVE - white) * levels))


DIVERGING_PALETTE = _diverging_palette()


def diverging_image(values):
    """values in -1..1 -> RGBA of the same shape: orange for -1, white for 0, blue for +1, as
    TensorFlow Playground draws them (a lookup in DIVERGING_PALETTE)."""
    levels = np.rint((np.clip(values, -1.0, 1.0) + 1.0) * ((PALETTE_LEVELS - 1) / 2.0)).astype(np.intp)
    return DIVERGING_PALETTE[levels]


def _scaled(values, activation):
    """Units' outputs (points, units) mapped to -1..1 for their pictures: tanh as it is, sigmoid 0..1
    to -1..1, ReLU (or an input feature) divided by each unit's largest magnitude."""
    if activation == "tanh":
        return values
    if activation == "sigmoid":
        return 2.0 * values - 1.0
    largest = np.max(np.abs(values), axis=0)
    return values / np.where(largest > 0, largest, 1.0)


def _set_range(axis_range, start, end):
    axis_range.start, axis_range.end = float(start), float(end)


# The curves' axes end at round numbers and move only when a curve passes one: a range that
# followed the data would change at every redraw, and the browser would measure and lay out the
# axis labels anew each time, which costs more than drawing the curves.
ROUND_STEPS = (1.0, 2.0, 5.0)
LARGEST_ROUNDED = 1e308  # above it, the next of 1, 2, 5 times a power of ten is not a finite double
FLOAT64 = np.finfo(np.float64)


def round_up(value):
    """The smallest of 1, 2, 5 times a power of ten that is >= value (1 for value <= 1).
    A ValueError for NaN and for values above 1e308, which have none."""
    if not value <= LARGEST_ROUNDED:
        raise ValueError("round_up needs a number at most %g, got %r" % (LARGEST_ROUNDED, value))
    if value <= 1:
        return 1.0
    power = 10.0 ** np.floor(np.log10(value))
    return next(step * power for step in ROUND_STEPS + (10.0,) if step * power >= value)


def _decade(exponent):
    """10 ** exponent, or the nearest positive finite double where that power of ten is not one
    (below 5e-324 or above 1.8e308)."""
    with np.errstate(over="ignore", under="ignore"):
        return float(np.clip(np.power(10.0, exponent), FLOAT64.smallest_subnormal, FLOAT64.max))


def _set_curve_ranges(plot, passes, values):
    """x from 0 to the passes rounded up; y (a log axis) between the powers of ten around the finite
    positive values, at least one decade apart; y unchanged when no value is finite and positive."""
    _set_range(plot.x_range, 0.0, round_up(max(passes, default=0)))
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values) & (values > 0)]
    if len(values):
        low, high = np.floor(np.log10(values.min())), np.ceil(np.log10(values.max()))
        _set_range(plot.y_range, _decade(low), _decade(max(high, low + 1)))


class BoundaryPicture:
    """The network's prediction over the plane (each class's colour mixed by its
    probability) with the training points (circles) and the test points (squares)."""

    def __init__(self, title="decision boundary", width=420, height=420):
        self.figure = figure(title=title, width=width, height=height, tools="", toolbar_location=None,
                             x_range=Range1d(0, 1), y_range=Range1d(0, 1))
        self.image = ColumnDataSource(dict(image=[np.zeros((1, 1), dtype=np.uint32)], x=[0], y=[0], dw=[1], dh=[1]))
        self.figure.image_rgba("image", "x", "y", "dw", "dh", source=self.image)
        self.train = ColumnDataSource(dict(x=[], y=[], colour=[]))
        self.test = ColumnDataSource(dict(x=[], y=[], colour=[]))
        self.figure.scatter("x", "y", source=self.train, fill_color="colour", line_color="white", size=6,
                            legend_label="train")
        self.figure.scatter("x", "y", source=self.test, fill_color="colour", line_color="black", size=6,
                            marker="square", legend_label="test")
        self.figure.legend.location = "top_left"
        self.figure.legend.background_fill_alpha = 0.6
        self.data = None

    def set_points(self, data, show_test):
        if data is not self.data:
            x_min, x_max, y_min, y_max = data.bounds
            _set_range(self.figure.x_range, x_min, x_max)
            _set_range(self.figure.y_range, y_min, y_max)
            self.train.data = dict(x=data.X_train[:, 0], y=data.X_train[:, 1],
                                   colour=[CLASS_HEX[k] for k in data.y_train])
            self.data = data
        shown = data.X_test if show_test else data.X_test[:0]
        if len(shown) != len(self.test.data["x"]):
            self.test.data = dict(x=shown[:, 0], y=shown[:, 1], colour=[CLASS_HEX[k] for k in data.y_test[:len(shown)]])

    def update(self, settings, data, model):
        self.set_points(data, settings.show_test)
        x_min, x_max, y_min, y_max = data.bounds
        probabilities = predict_proba(model, features(grid(data.bounds, BOUNDARY_RESOLUTION), settings.features),
                                      num_threads=1)
        colours = probabilities.astype(np.float64).dot(CLASS_COLOURS[:probabilities.shape[1]])
        self.image.data = dict(image=[_rgba(colours, BOUNDARY_ALPHA).reshape(BOUNDARY_RESOLUTION, -1)],
                               x=[x_min], y=[y_min], dw=[x_max - x_min], dh=[y_max - y_min])


class LossPicture:
    """The lecture's loss on the training points and on the test points, against passes, on a log axis."""

    def __init__(self, with_student=False, width=420, height=260):
        self.figure = figure(title="loss", width=width, height=height, y_axis_type="log", tools="",
                             toolbar_location=None, x_axis_label="passes", x_range=Range1d(0, 1),
                             y_range=Range1d(0.1, 1))
        self.source = ColumnDataSource(dict(passes=[], train=[], test=[]))
        self.figure.line("passes", "train", source=self.source, color="#333333", line_width=2, legend_label="train")
        self.figure.line("passes", "test", source=self.source, color="#d62728", line_width=2, legend_label="test")
        self.student = ColumnDataSource(dict(passes=[], loss=[]))
        if with_student:
                self.figure.line("passes", "loss", source=self.student, color="#9467bd", line_width=2,
                             line_dash="dashed", legend_label="your backprop")
        self.figure.legend.location = "top_right"

    def update(self, progress, student):
        test = np.array(progress.curve_test, dtype=np.float64)
        train = np.array(progress.curve_train)
        self.source.data = dict(passes=np.array(progress.curve_passes, dtype=np.float64), train=train, test=test)
        _set_curve_ranges(self.figure, progress.curve_passes, np.concatenate([train, test]))
        if student is not None:
            self.student.data = dict(passes=np.array(student.curve_passes, dtype=np.float64),
                                     loss=np.array(student.curve_losses))


class StabilityPicture:
    """The sharpness (the Hessian's largest eigenvalue) as training goes, against 2/epsilon:
    full-batch gradient descent settles only below that line."""

    def __init__(self, width=420, height=260):
        self.figure = figure(title="sharpness and 2/epsilon", width=width, height=height, y_axis_type="log",
                             tools="", toolbar_location=None, x_axis_label="passes", x_range=Range1d(0, 1),
                             y_range=Range1d(0.1, 1))
        self.source = ColumnDataSource(dict(passes=[], sharpness=[], limit=[]))
        self.figure.line("passes", "sharpness", source=self.source, color="#1f77b4", line_width=2,
                         legend_label="sharpness")
        self.figure.scatter("passes", "sharpness", source=self.source, color="#1f77b4", size=4)
        self.figure.line("passes", "limit", source=self.source, color="#d62728", line_dash="dashed", line_width=2,
                         legend_label="2/epsilon")
        self.figure.legend.location = "bottom_right"
        self.shown = None  # the sharpness list drawn last

    def update(self, progress):
        if progress.sharpness is self.shown:
            return  # measured a few times a second at most: most redraws have nothing new here
        passes, values, limits = np.array(progress.sharpness, dtype=np.float64).reshape(-1, 3).T
        self.source.data = dict(passes=passes, sharpness=values, limit=limits)
        _set_curve_ranges(self.figure, passes, np.concatenate([values, limits]))
        self.shown = progress.sharpness


UNIT_SIZE = 1.0  # a unit's picture is this wide in the diagram's coordinates
LAYER_GAP = 2.2  # horizontal distance between layers
UNIT_GAP = 1.3  # vertical distance between the units of a layer
MAX_LINE_WIDTH = 6.0


class NetworkPicture:
    """The network: every input feature, hidden unit and the output as a small picture
    of its value over the plane, joined by lines whose width is the weight's size and
    whose colour its sign (blue positive, orange negative)."""

    def __init__(self, width=560, height=420):
        self.figure = figure(title="network: each unit's output over the plane", width=width, height=height,
                             tools="", toolbar_location=None, x_range=Range1d(0, 1), y_range=Range1d(0, 1))
        self.figure.axis.visible = False
        self.figure.grid.visible = False
        self.lines = ColumnDataSource(dict(x0=[], y0=[], x1=[], y1=[], width=[], sign=[]))
        signs = LinearColorMapper(palette=[CLASS_HEX[0], CLASS_HEX[1]], low=-1.0, high=1.0)
        self.figure.segment("x0", "y0", "x1", "y1", source=self.lines, line_width="width",
                            line_color={"field": "sign", "transform": signs}, line_alpha=0.7)
        self.units = ColumnDataSource(dict(image=[], x=[], y=[], dw=[], dh=[]))
        self.figure.image_rgba("image", "x", "y", "dw", "dh", source=self.units)
        self.labels = ColumnDataSource(dict(x=[], y=[], text=[]))
        self.figure.text("x", "y", "text", source=self.labels, text_font_size="9pt", text_align="center",
                         text_baseline="top")
        self.layout_key = None

    def _positions(self, sizes):
        """-> per layer, the centres (x, y) of its units, each layer centred vertically."""
        tallest = max(sizes)
        return [[(l * LAYER_GAP, (tallest - 1) * UNIT_GAP / 2 - k * UNIT_GAP) for k in range(size)]
                for l, size in enumerate(sizes)]

    def update(self, settings, data, model):
        num_layers = reference.num_layers(model)
        sizes = [model["W1"].shape[0]] + [model["W%d" % l].shape[1] for l in range(1, num_layers + 1)]
        positions = self._positions(sizes)
        if self.layout_key != (tuple(sizes), settings.features):
            tallest = max(sizes)
            half = (tallest - 1) * UNIT_GAP / 2 + UNIT_SIZE
            _set_range(self.figure.x_range, -UNIT_SIZE, (len(sizes) - 1) * LAYER_GAP + UNIT_SIZE)
            _set_range(self.figure.y_range, -half - 0.3, half)
            names = list(settings.features) + [""] * sum(sizes[1:-1]) + ["p(class %d)" % k for k in range(sizes[-1])]
            centres = [centre for layer in positions for centre in layer]
            self.labels.data = dict(x=[x for x, _ in centres], y=[y - UNIT_SIZE / 2 for _, y in centres], text=names)
            self.layout_key = (tuple(sizes), settings.features)
        self.lines.data = self._lines(model, positions)
        self.units.data = self._units(settings, data, model, positions)

    def _lines(self, model, positions):
        """One segment per weight, layer by layer, in the order of W.ravel() (source unit j, target unit k)."""
        weights = [np.asarray(model["W%d" % l], dtype=np.float64) for l in range(1, len(positions))]
        largest = max(float(np.max(np.abs(W))) for W in weights) or 1.0
        ends = {"x0": [], "y0": [], "x1": [], "y1": []}
        for sources, targets in zip(positions[:-1], positions[1:]):
            sources, targets = np.array(sources), np.array(targets)
            ends["x0"].append(np.repeat(sources[:, 0] + UNIT_SIZE / 2, len(targets)))
            ends["y0"].append(np.repeat(sources[:, 1], len(targets)))
            ends["x1"].append(np.tile(targets[:, 0] - UNIT_SIZE / 2, len(sources)))
            ends["y1"].append(np.tile(targets[:, 1], len(sources)))
        flat = np.concatenate([W.ravel() for W in weights])
        return dict({name: np.concatenate(parts) for name, parts in ends.items()},
                    width=0.5 + MAX_LINE_WIDTH * np.abs(flat) / largest, sign=np.sign(flat))

    def _units(self, settings, data, model, positions):
        plane = grid(data.bounds, UNIT_RESOLUTION)
        inputs = features(plane, settings.features).astype(model["W1"].dtype)
        outputs = reference.forward(model, inputs)  # hidden layers' outputs, then the output layer's scores
        probabilities = reference.softmax_forward(np.asarray(outputs[-1], dtype=np.float64))
        layers = ([(inputs, "identity")] + [(a, settings.activation) for a in outputs[:-1]]
                  + [(probabilities, "sigmoid")])  # each output unit: its class's probability, 0..1
        values = np.column_stack([_scaled(np.asarray(values, dtype=np.float64), activation)
                                  for values, activation in layers])  # (grid points, every unit)
        images = list(diverging_image(values.T.reshape(-1, UNIT_RESOLUTION, UNIT_RESOLUTION)))
        centres = np.array([centre for layer in positions for centre in layer])
        xs, ys = centres[:, 0] - UNIT_SIZE / 2, centres[:, 1] - UNIT_SIZE / 2
        return dict(image=images, x=xs, y=ys, dw=np.full(len(images), UNIT_SIZE), dh=np.full(len(images), UNIT_SIZE))
