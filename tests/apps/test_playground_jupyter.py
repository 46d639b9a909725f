"""``fastbp.playground()`` in a real Jupyter kernel: a notebook run by nbclient on ipykernel, as the
lecture's notebook would run it.

Skipped, with the reason, when the extra fastbp[playground] or the notebook machinery (the extra
fastbp[playground-test]) is missing; the last test, which opens the notebook exported by
``jupyter nbconvert --execute`` in headless Chromium, also when Chromium is missing. .ci/run
installs them all and runs this file with the browser tests.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

import fastbp

for module, reason in (("panel", 'the playground\'s extra is not installed (pip install "fastbp[playground]")'),
                       ("nbclient", 'nbclient is not installed (pip install "fastbp[playground-test]")'),
                       ("nbformat", 'nbformat is not installed (pip install "fastbp[playground-test]")'),
                       ("ipykernel", 'ipykernel is not installed (pip install "fastbp[playground-test]")')):
    pytest.importorskip(module, reason=reason)

import nbclient  # noqa: E402  (after the skips above)
import nbformat  # noqa: E402

CELL_SECONDS = 300  # a kernel's start, Panel's import and 1001 passes at the preset's 2000 a second, on a busy machine
SHOW = "import fastbp\napp = fastbp.playground()\napp"
# Presses the page's own buttons and types into its own field, as a click and a keystroke would, then
# reports what the page shows and what its session recorded (json keeps every bit of a float).
DRIVE = """\
import json, time
app.buttons["lecture"].clicks += 1
app.fields["stop_at"].value = "1001"
app.buttons["play"].clicks += 1
deadline = time.monotonic() + %d
while app.session.playing or app.session.view()[2].passes < 1001:
    assert time.monotonic() < deadline, "the lecture preset did not reach pass 1001"
    time.sleep(0.05)
app.redraw()
progress = app.session.view()[2]
print(json.dumps(dict(printout=app.printed.object, status=app.status.object, message=app.message.object,
                      passes=progress.passes, printed=progress.printed, fastbp=fastbp.__file__)))
app.close()
""" % CELL_SECONDS
# Panel's notebook output: its loader (Bokeh and Panel's JavaScript), then each shown object as an
# HTML element whose Bokeh root is rendered by the script beside it, keyed by the root's id.
PANEL_LOAD = "application/vnd.holoviews_load.v0+json"
PANEL_EXEC = "application/vnd.holoviews_exec.v0+json"
# The four Bokeh figures of the page: the decision boundary, the network, the loss and the stability.
PAGE_FIGURES = 4


@pytest.fixture(scope="module")
def notebook():
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(SHOW), nbformat.v4.new_code_cell(DRIVE)]
    nbclient.NotebookClient(notebook, timeout=CELL_SECONDS, kernel_name="python3").execute()
    return notebook


def test_the_playground_is_shown_as_panels_notebook_output(notebook):
    outputs = notebook.cells[0].outputs
    assert not [output for output in outputs if output.output_type == "error"]
    assert any(PANEL_LOAD in output.get("data", {}) for output in outputs), "Panel's loader was not sent"
    (result,) = [output for output in outputs if output.output_type == "execute_result"]
    assert PANEL_EXEC in result.data, sorted(result.data)
    root = result.metadata[PANEL_EXEC]["id"]
    markup = result.data["text/html"]
    assert 'data-root-id="%s"' % root in markup
    # the page itself, not some other object: its buttons and its figures are in the document sent
    assert "fbp-play" in markup and "fbp-lecture" in markup
    assert len(re.findall(r'"type":"object","name":"Figure"', markup)) == PAGE_FIGURES


def test_the_lecture_preset_driven_from_the_notebook_shows_fastbp_trains_losses(notebook):
    outputs = notebook.cells[1].outputs
    assert not [output for output in outputs if output.output_type == "error"]
    shown = json.loads("".join(output.text for output in outputs if output.output_type == "stream"
                               and output.name == "stdout"))
    assert shown["fastbp"] == fastbp.__file__  # the kernel ran the fastbp under test
    assert shown["passes"] == 1001 and ">1001<" in shown["status"]
    assert "fbp-message" in shown["message"] and "color" not in shown["message"]  # no message in red
    # the lecture's printed lines after passes 0 and 1000, on the page
    assert "Loss after iteration 0: 0.432387\nLoss after iteration 1000: 0.068947" in shown["printout"]
    # and, to the bit, what one call of fastbp.train records for the same settings
    X, y = fastbp.datasets.make_moons(200, noise=0.20, seed=0)
    run = fastbp.train(X, y, 3, num_passes=1001, epsilon=0.01, reg_lambda=0.01, seed=0, loss_every=1000)
    assert shown["printed"] == [[int(p), loss] for p, loss in zip(run.loss_passes.tolist(), run.losses.tolist())]


CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# The exported page carries Bokeh's and Panel's JavaScript itself (inline), so it renders offline.
EXPORTED = "import panel as pn\npn.extension(inline=True)\n" + SHOW
RENDER_SECONDS = 90  # for the browser to run the exported page's scripts, on a busy machine
# Counts elements through the shadow roots Bokeh puts every view in.
DEEP_COUNT = """
function deep(root, selector, found) {
  root.querySelectorAll(selector).forEach(e => found.push(e));
  root.querySelectorAll('*').forEach(e => { if (e.shadowRoot) deep(e.shadowRoot, selector, found); });
  return found;
}
var canvases = deep(document, '.bk-Canvas', []).filter(e => e.getBoundingClientRect().width > 0);
var status = deep(document, '#fbp-status', []);
return [window.Bokeh ? window.Bokeh.documents.length : 0, canvases.length, deep(document, '.fbp-play', []).length,
        status.length ? status[0].textContent : ''];
"""


@pytest.mark.skipif(not (os.path.exists(CHROMEDRIVER) and CHROMIUM),
                    reason="headless Chromium is not installed (Debian: apt-get install chromium chromium-driver)")
def test_the_notebook_exported_by_nbconvert_renders_the_page_in_chromium(tmp_path):
    pytest.importorskip("nbconvert", reason='nbconvert is not installed (pip install "fastbp[playground-test]")')
    webdriver = pytest.importorskip("selenium.webdriver", reason="Selenium is not installed (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(EXPORTED), nbformat.v4.new_code_cell("app.close()")]
    nbformat.write(notebook, tmp_path / "playground.ipynb")
    subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", "--execute",
                    "--ExecutePreprocessor.timeout=%d" % CELL_SECONDS, str(tmp_path / "playground.ipynb")],
                   check=True, capture_output=True, timeout=2 * CELL_SECONDS)
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1250"):
        options.add_argument(argument)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get((tmp_path / "playground.html").as_uri())
        deadline = time.monotonic() + RENDER_SECONDS
        while True:
            documents, canvases, play_buttons, status = driver.execute_script(DEEP_COUNT)
            if canvases >= PAGE_FIGURES or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        driver.quit()
    # Bokeh rendered the cell's document: the four figures drawn with a size, the buttons, the status line
    assert documents >= 1 and canvases == PAGE_FIGURES and play_buttons == 1, (documents, canvases, play_buttons)
    assert status.startswith("pass 0") and "train loss 0." in status, status
