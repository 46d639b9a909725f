"""Serving the playground: ``fastbp playground`` (a local web server and the browser)
and ``fastbp.playground()`` (the same page in a Jupyter notebook).

Every browser tab is a Bokeh server session with its own :class:`Page`; when
the tab closes, Bokeh destroys the session within about a second
(UNUSED_SESSION_MILLISECONDS) and the page's training stops with it.
"""

import logging
import socket
import sys
import webbrowser

import panel as pn

from .. import exercise
from . import settings as S
from .layout import Page
from .student import student_factory

LOCAL_HOST = "127.0.0.1"
DEFAULT_PORT = 5006  # Bokeh's and Panel's usual port
# A closed tab's session is noticed and destroyed within about this long.
UNUSED_SESSION_MILLISECONDS = 1000
OPEN_PAGES = set()  # the served pages, closed when the server stops


def _page_maker(student, verdict):
    def make_page():
        strings = S.query_to_strings(pn.state.session_args or {})
        page = Page(strings, student, verdict, location=pn.state.location, wait_for_browser=True)
        page.start()
        OPEN_PAGES.add(page)

        def closed(context):
            page.close()
            OPEN_PAGES.discard(page)
        pn.state.on_session_destroyed(closed)
        return page.panel()
    return make_page


def load_student(path):
    """-> (student run factory, the checker's report) for the file named on the command line."""
    backprop = exercise.load_backprop(path)  # raises StudentFileError
    result = exercise.check_backprop(backprop, verbose=False)
    return student_factory(backprop), result.report("backprop in %s" % path)


def free_port(host):
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def serve(host=LOCAL_HOST, port=DEFAULT_PORT, open_browser=True, backprop_path=None):
    """Serve the playground until Ctrl-C; -> exit status."""
    student, verdict = load_student(backprop_path) if backprop_path else (None, None)
    if port == 0:
        port = free_port(host)
    if host != LOCAL_HOST:
        print("fastbp playground: warning: listening on %s, not only on this machine: anyone who can reach "
              "port %d can open the page and train on this machine's processors" % (host, port), file=sys.stderr)
    origins = ["%s:%d" % (name, port) for name in ("localhost", LOCAL_HOST)] if host == LOCAL_HOST else ["*"]
    server = pn.serve({"/": _page_maker(student, verdict)}, port=port, address=host, websocket_origin=origins,
                      show=False, start=False, title="fastbp playground", verbose=False,
                      check_unused_sessions_milliseconds=UNUSED_SESSION_MILLISECONDS,
                      unused_session_lifetime_milliseconds=UNUSED_SESSION_MILLISECONDS)
    # A tab closed between two redraws makes Bokeh log each update it could not send: expected, not news.
    logging.getLogger("bokeh.server.views.ws").setLevel(logging.ERROR)
    server.start()
    url = "http://%s:%d/" % ("localhost" if host in (LOCAL_HOST, "0.0.0.0") else host, port)
    print("fastbp playground at %s (Ctrl-C stops it)" % url, flush=True)
    if open_browser:
        webbrowser.open(url)
    try:
        server.io_loop.start()  # Panel's Ctrl-C handler stops the loop, and this returns
    except KeyboardInterrupt:  # a second Ctrl-C while it stops
        pass
    finally:
        for page in list(OPEN_PAGES):
            page.close()
        server.stop()
    print("\nfastbp playground: stopped", flush=True)
    return 0


def playground(backprop=None, **settings):
    """The playground in a Jupyter notebook: -> the page (a :class:`~fastbp.playground_app.layout.Page`),
    displayed as the cell's output like its Panel layout (``page.panel()``).

    settings: any of the page's settings by name (``dataset="spiral",
    hidden=(20, 20)``); a bad one is named on the page. backprop: a function
    with the ``fastbp check`` signature to train beside the reference.
    The page can be driven from the notebook too: its controls are
    ``page.fields`` and ``page.buttons`` (Panel widgets, ``page.buttons["play"].clicks += 1``
    presses play), its training ``page.session``; ``page.close()`` stops it.
    """
    pn.extension()
    strings = {name: value if isinstance(value, str) else S.to_string(name, value)
               for name, value in settings.items()}
    student, verdict = None, None
    if backprop is not None:
        student = student_factory(backprop)
        verdict = exercise.check_backprop(backprop, verbose=False).report("backprop")
    page = Page(strings, student, verdict)
    page.start()
    return page
