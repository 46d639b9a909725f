"""``fastbp playground``: the lecture's network learning live, in the browser or in Jupyter.

A page like TensorFlow Playground, but training with fastbp's own compiled
kernels (``fastbp.train``, continued chunk by chunk) and showing what fastbp
knows besides: the lecture's printed losses, the sharpness against
2/epsilon, and a student's backprop trained beside the reference.

Built on Panel (with Bokeh figures), the optional extra
``pip install "fastbp[playground]"``; the core package never imports it. Panel
was chosen over Bokeh's server alone because the same layout object runs both
as a served page (``panel.serve``, one session per tab, with its address
readable and writable as ``pn.state.location``) and as a notebook cell's
output, which the lecture needs; the pictures themselves are plain Bokeh
figures whose data sources are updated in place, so each redraw sends only
new arrays to the browser. Both are well-kept HoloViz and Bokeh projects.

The modules, one job each:

    settings.py   the settings record, read from and written to the page's fields and address
    data.py       the five data sets, the train/test split, the input features
    session.py    training on a worker thread: play, pause, one pass, reset; sharpness, run class
    student.py    a student's backprop trained beside the reference
    figures.py    the Bokeh pictures and how they are redrawn
    layout.py     the page: controls, pictures and texts, wired to a session
    server.py     ``fastbp playground`` and ``fastbp.playground()``

Only figures.py, layout.py and server.py import the web libraries.
"""
