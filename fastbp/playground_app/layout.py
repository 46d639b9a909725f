"""The playground's page: the controls, the pictures and the texts, wired to a training session.

One :class:`Page` per browser tab (or notebook cell): its own settings, its own
:class:`~fastbp.playground_app.session.TrainingSession` and its own redraw
timer. Every control holds text that :func:`settings.parse` reads, the same
text the address holds, so a bad value gets the same message from either.
"""

import html
import time
import traceback

import panel as pn
from bokeh.models import ColumnDataSource, CustomJS

from .. import diagnostics
from . import settings as S
from .data import DataError
from .figures import BoundaryPicture, LossPicture, NetworkPicture, StabilityPicture
from .session import TrainingSession, current_step_size

REDRAW_MILLISECONDS = 50  # at most 20 redraws a second; a redraw happens only when the model changed
# Changing these starts over: they change the data, the network or the precision.
RESET_FIELDS = ("dataset", "noise", "samples", "test_percent", "seed", "hidden", "activation", "features", "dtype")
TEXT_FIELDS = ("noise", "samples", "test_percent", "seed", "hidden", "epsilon", "l2", "batch", "stop_at", "speed")
# Flow control in a served page: the browser acknowledges each new decision boundary it has
# applied, and the server draws again only while fewer than this many are unacknowledged, so a
# slow browser sees the newest model instead of a growing queue of old ones ...
MAX_UNACKNOWLEDGED = 2
ACK_TIMEOUT_SECONDS = 2.0  # ... unless no acknowledgement came for this long (then it draws anyway)
PRINTED_LINES_SHOWN = 21  # the lecture's 20000 passes print 20 lines

EDGE_OF_STABILITY = (
    "Edge of stability: near a minimum, full-batch gradient descent with step epsilon settles only where the "
    "sharpness is below 2/epsilon; training sharpens the network until it reaches that line, and then the loss "
    "oscillates or spikes instead of settling.")
RUN_CLASS_NOTES = {
    diagnostics.CONVERGED: "the loss never rises: gradient descent is settling into a minimum.",
    diagnostics.PERIOD_2: "the loss alternates between two values: each step overshoots a valley too sharp "
                          "for this epsilon (the sharpness alternates too; measured every 250 passes, the curve "
                          "sees one of its two values).",
    diagnostics.IRREGULAR: "the loss rises and falls without a pattern: the run is spiking at the edge of stability.",
}
EPSILON_NOTE = (
    "The step is the lecture's: <code>W += -epsilon * dW</code> with dW <b>summed</b> over the N training points "
    "(over the B points of a batch with minibatches), not averaged. So the same epsilon is a larger step on more "
    "points: the averaged convention's learning rate is epsilon &times; N (epsilon &times; B), and a run on twice "
    "the points wants about half the epsilon.")


def _escape(text):
    return html.escape(str(text))


def _set_text(pane, markup):
    """Change a text only if it changes: every change is sent to the browser."""
    if pane.object != markup:
        pane.object = markup


class Page:
    """A playground page. ``location``: the page's address to read settings from and write them to
    (pn.state.location in a served app), or None in a notebook."""

    def __init__(self, strings=None, student=None, verdict=None, location=None, wait_for_browser=False):
        self.location = location
        self.wait_for_browser = wait_for_browser
        self.settings, messages = S.parse(strings or {})
        try:
            self.session = TrainingSession(self.settings, student)
        except DataError as err:
            messages.append("%s; the default settings are shown instead" % err)
            self.settings = S.Settings()
            self.session = TrainingSession(self.settings, student)
        self.messages = messages
        self._quiet = False  # set while the page itself writes the controls
        self._build_controls()
        self._build_pictures(verdict)
        self._show_settings(self.settings)
        self._drawn = None
        self._redraw_times = []
        self._sent, self._acknowledged, self._last_acknowledged = 0, 0, time.perf_counter()
        self.redraw()
        self._sent = 0  # the first picture is part of the page the browser loads, not a change to acknowledge
        self._timer = None
        self._layout = None

    # ------------------------------------------------------------ building

    def _build_controls(self):
        text = {name: pn.widgets.TextInput(name=S.LABELS[name], width=130, css_classes=["fbp-" + name])
                for name in TEXT_FIELDS}
        self.fields = dict(
            text,
            dataset=pn.widgets.Select(name=S.LABELS["dataset"], options=list(S.DATASETS), width=130,
                                      css_classes=["fbp-dataset"]),
            show_test=pn.widgets.Checkbox(name=S.LABELS["show_test"], css_classes=["fbp-show_test"]),
            activation=pn.widgets.Select(name=S.LABELS["activation"], options=list(S.ACTIVATIONS), width=130,
                                         css_classes=["fbp-activation"]),
            features=pn.widgets.CheckBoxGroup(name=S.LABELS["features"], options=list(S.FEATURES), inline=False,
                                              css_classes=["fbp-features"]),
            schedule=pn.widgets.Select(name=S.LABELS["schedule"], options=list(S.SCHEDULES), width=130,
                                       css_classes=["fbp-schedule"]),
            dtype=pn.widgets.Select(name=S.LABELS["dtype"], options=list(S.DTYPES), width=130,
                                    css_classes=["fbp-dtype"]),
        )
        for widget in self.fields.values():
            widget.param.watch(self._on_field, "value")
        self.buttons = {}
        for key, label, action in (("play", "\u25b6 play", self._play), ("pause", "\u275a\u275a pause", self._pause),
                                   ("step", "one pass", self._one_pass), ("reset", "reset", self._reset),
                                   ("lecture", "lecture preset", self._lecture),
                                   ("stable", "stable epsilon", self._stable_epsilon),
                                   ("add_layer", "+ layer", self._add_layer),
                                   ("remove_layer", "\u2212 layer", self._remove_layer)):
            button = pn.widgets.Button(name=label, width=120, css_classes=["fbp-" + key],
                                       button_type="primary" if key == "play" else "default")
            button.on_click(self._reported(action))
            self.buttons[key] = button

    def _build_pictures(self, verdict):
        self.boundary = BoundaryPicture()
        self.loss = LossPicture(with_student=bool(verdict))
        self.network = NetworkPicture()
        self.stability = StabilityPicture()
        # Texts that change while training are Panel HTML panes: the browser puts a new text in place
        # without laying the page out again (a Bokeh Div lays out the whole page, every figure's axes
        # measured anew, on each change of any of its properties: that cost more than the pictures).
        # Fixed sizes: a new text then changes no other element's place.
        self.message = pn.pane.HTML("", width=1100, height=44)
        self.status = pn.pane.HTML("", width=1100, height=24)
        self.printed = pn.pane.HTML("", width=300, height=360)
        self.stability_text = pn.pane.HTML("", width=620, height=120)
        self.student_boundary = BoundaryPicture("your backprop's decision boundary", 300, 300) if verdict else None
        self.student_text = pn.pane.HTML("", width=600)
        self.verdict = verdict
        # The count of boundary pictures the browser has applied, counted by the browser in a model
        # that is not drawn, so that counting lays nothing out.
        self.acknowledgements = ColumnDataSource(dict(received=[0]))
        self.boundary.image.js_on_change("data", CustomJS(
            args=dict(counter=self.acknowledgements),
            code="counter.data = {received: [counter.data.received[0] + 1]};"))
        self.acknowledgements.on_change("data", self._on_acknowledged)

    def panel(self):
        """The page as one Panel layout, built once: its Bokeh models can belong to one document only."""
        if self._layout is None:
            self._layout = self._build_layout()
        return self._layout

    def _repr_mimebundle_(self, include=None, exclude=None):
        """In a notebook, the page is shown as its layout is: Panel's output for the notebook."""
        return self.panel()._repr_mimebundle_(include, exclude)

    def _build_layout(self):
        f, b = self.fields, self.buttons
        controls = pn.Column(
            pn.pane.HTML("<h3>data</h3>"), f["dataset"], pn.Row(f["noise"], f["samples"]),
            pn.Row(f["test_percent"], f["seed"]), f["show_test"],
            pn.pane.HTML("<h3>network</h3>"), f["hidden"], pn.Row(b["add_layer"], b["remove_layer"]),
            f["activation"], pn.pane.HTML("input features"), f["features"],
            pn.pane.HTML("<h3>training</h3>"), pn.Row(f["epsilon"], f["l2"]), pn.pane.HTML(EPSILON_NOTE, width=280),
            pn.Row(f["batch"], f["schedule"]), pn.Row(f["dtype"], f["stop_at"]), f["speed"],
            width=300)
        buttons = pn.Row(b["play"], b["pause"], b["step"], b["reset"], b["lecture"], b["stable"])
        pictures = pn.Column(
            pn.Row(pn.pane.Bokeh(self.boundary.figure), pn.pane.Bokeh(self.network.figure)),
            pn.Row(pn.pane.Bokeh(self.loss.figure), pn.pane.Bokeh(self.stability.figure), self.printed),
            self.stability_text)
        if self.verdict:
            pictures.append(pn.Row(pn.pane.Bokeh(self.student_boundary.figure), self.student_text))
        header = pn.pane.HTML("<h2>fastbp playground</h2><p>The backprop lecture's network, trained live by "
                              "fastbp's compiled kernels.</p>")
        return pn.Column(header, buttons, self.status, self.message, pn.Row(controls, pictures))

    # ------------------------------------------------------------ the controls

    def _field_strings(self):
        strings = {}
        for name, widget in self.fields.items():
            value = widget.value
            if name == "show_test":
                value = "1" if value else "0"
            elif name == "features":
                value = ",".join(value)
            strings[name] = value
        return strings

    def _show_settings(self, settings):
        self._quiet = True
        try:
            for name, text in S.to_strings(settings).items():
                widget = self.fields[name]
                if name == "show_test":
                    widget.value = settings.show_test
                elif name == "features":
                    widget.value = list(settings.features)
                else:
                    widget.value = text
        finally:
            self._quiet = False

    def _reported(self, action):
        """An event handler that reports a failure on the page instead of raising."""
        def handler(*args):
            try:
                action(*args)
            except Exception as err:  # a message on the page, never a traceback or a stuck page
                traceback.print_exc()
                self.messages = ["could not do that: %s" % err]
                self._show_messages()
        return handler

    def _on_field(self, event):
        if not self._quiet:
            self._reported(self._apply_fields)()

    def _apply_fields(self):
        settings, messages = S.parse(self._field_strings(), fallback=self.settings)
        self.messages = messages
        if not messages:
            self.apply(settings)
        self._show_messages()

    def apply(self, settings):
        """Use these settings: start over if the data, network or precision changed, else go on training."""
        if any(getattr(settings, name) != getattr(self.settings, name) for name in RESET_FIELDS):
            try:
                self.session.reset(settings)
            except DataError as err:
                self.messages = [str(err)]
                return
        else:
            self.session.apply(settings)
        self.settings = settings
        if self.location is not None:
            self.location.update_query(**S.to_strings(settings))
        self.redraw()

    def _play(self, *_):
        self.session.play()

    def _pause(self, *_):
        self.session.pause()

    def _one_pass(self, *_):
        self.session.one_pass()

    def _reset(self, *_):
        self.session.reset(self.settings)
        self.messages = []
        self._show_messages()

    def _lecture(self, *_):
        self._show_settings(S.LECTURE)
        self.messages = []
        self.session.reset(S.LECTURE)  # always from the start, even if the settings were the lecture's already
        self.settings = S.LECTURE
        if self.location is not None:
            self.location.update_query(**S.to_strings(S.LECTURE))
        self._show_messages()

    def _stable_epsilon(self, *_):
        epsilon = self.session.stable_epsilon()
        if epsilon is None:
            self.messages = ["the sharpness is not measured yet: press play first"]
            self._show_messages()
            return
        self.fields["epsilon"].value = S.to_string("epsilon", epsilon)  # applied by _on_field

    def _add_layer(self, *_):
        hidden = self.settings.hidden
        if len(hidden) < S.MAX_LAYERS:
            self.fields["hidden"].value = S.to_string("hidden", hidden + hidden[-1:])

    def _remove_layer(self, *_):
        hidden = self.settings.hidden
        if len(hidden) > 1:
            self.fields["hidden"].value = S.to_string("hidden", hidden[:-1])

    def _show_messages(self, diverged=""):
        lines = list(self.messages) + ([diverged] if diverged else [])
        box = "style='color:#b00020;border:1px solid #b00020;padding:4px 8px'" if lines else ""
        text = "<br>".join(_escape(line) for line in lines)
        _set_text(self.message, "<div id='fbp-message' %s>%s</div>" % (box, text))

    # ------------------------------------------------------------ redrawing

    def start(self):
        """Start redrawing on a timer (in a served page or a notebook)."""
        self._timer = pn.state.add_periodic_callback(self._reported(self.redraw), period=REDRAW_MILLISECONDS)

    def close(self):
        """The tab closed: stop training and redrawing."""
        self.session.close()
        if self._timer is not None:
            self._timer.stop()

    def redraw(self):
        settings, data, progress, student = self.session.view()
        key = (id(progress), settings, id(student and student.key))
        if key == self._drawn:
            self._show_status(settings, progress)
            return
        now = time.perf_counter()
        if (self.wait_for_browser and self._sent - self._acknowledged >= MAX_UNACKNOWLEDGED
                and now - self._last_acknowledged < ACK_TIMEOUT_SECONDS):
            return  # the browser is behind: draw the newest model once it has caught up
        self._drawn = key
        self._sent += 1
        with pn.io.hold():  # one message to the browser for the whole redraw, applied at once
            self.boundary.update(settings, data, progress.model)
            self.network.update(settings, data, progress.model)
            self.loss.update(progress, student)
            self.stability.update(progress)
            self._redraw_times = [t for t in self._redraw_times if t > now - 1.0] + [now]
            self._show_status(settings, progress)
            self._show_messages(progress.diverged)
            self._show_printed(progress)
            self._show_stability(settings, progress)
            if student is not None:
                self.student_boundary.update(settings, data, student.model)
                self._show_student(student)

    def _on_acknowledged(self, attribute, old, new):
        self._acknowledged, self._last_acknowledged = new["received"][0], time.perf_counter()

    def _show_status(self, settings, progress):
        now = time.perf_counter()
        redraws = sum(1 for t in self._redraw_times if t > now - 1.0)
        test = progress.curve_test[-1] if progress.curve_test else float("nan")
        state = "training" if self.session.playing else "paused"
        status = (
            "<div id='fbp-status'><b>pass <span id='fbp-passes'>%d</span></b> &middot; %s &middot; "
            "<span id='fbp-rate'>%.0f</span> passes/s &middot; <span id='fbp-redraws'>%d</span> redraws/s &middot; "
            "train loss <span id='fbp-train-loss'>%.6f</span> &middot; test loss %s</div>"
            % (progress.passes, state, progress.passes_per_second if self.session.playing else 0.0, redraws,
               progress.curve_train[-1], "%.6f" % test if test == test else "(no test points)"))
        _set_text(self.status, status)

    def _show_printed(self, progress):
        lines = ["Loss after iteration %i: %f" % (i, loss) for i, loss in progress.printed]
        if len(lines) > PRINTED_LINES_SHOWN:  # the first two (the lecture's checkpoints 0 and 1000) and the last ones
            lines = lines[:2] + ["..."] + lines[3 - PRINTED_LINES_SHOWN:]
        _set_text(self.printed, "<div><b>the lecture's printout</b><pre id='fbp-printed' style='font-size:11px'>%s"
                                "</pre></div>" % _escape("\n".join(lines)))

    def _show_stability(self, settings, progress):
        if progress.sharpness:
            passes, value, limit = progress.sharpness[-1]
            measured = ("Sharpness %.4g after %d passes; 2/epsilon = %.4g: %s." % (
                value, passes, limit, "below" if value < limit else "above: gradient descent cannot settle here"))
        else:
            measured = "The sharpness is measured after passes 0, 250, 500, ... while training%s." % (
                " (ReLU's second derivative is 0 wherever it exists: the Hessian is that of the piece "
                "the weights are on, between the kinks where a unit turns on or off)"
                if settings.activation == "relu" else "")
        run_class = progress.run_class
        verdict = ("Run class: <b id='fbp-run-class'>%s</b>, %s" % (run_class, RUN_CLASS_NOTES[run_class])
                   if run_class else "Run class: shown after %d passes at one step size (full batch)."
                   % diagnostics.CLASSIFY_WINDOW)
        step = current_step_size(settings, progress.passes, len(self.session.X_train))
        _set_text(self.stability_text, "<div id='fbp-stability'>%s (current step %g)<br>%s<br><small>%s</small></div>"
                  % (_escape(measured), step, verdict, _escape(EDGE_OF_STABILITY)))

    def _show_student(self, student):
        _set_text(self.student_text, "<div id='fbp-student'>%s<br><pre>%s</pre></div>"
                  % (_escape(student.summary), _escape(self.verdict)))
