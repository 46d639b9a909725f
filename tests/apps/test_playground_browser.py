"""The playground in a real browser: headless Chromium, driven by Selenium, against
``fastbp playground`` started as a user starts it.

Skipped, with the reason, when the extra fastbp[playground], Selenium, Chromium or
its driver is missing (.ci/run installs them all and runs this file on its own).
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlparse

import pytest

import fastbp

for module, reason in (("panel", 'the playground\'s extra is not installed (pip install "fastbp[playground]")'),
                       ("selenium", "Selenium is not installed (pip install selenium)")):
    pytest.importorskip(module, reason=reason)
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not (os.path.exists(CHROMEDRIVER) and CHROMIUM):
    pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium chromium-driver)",
                allow_module_level=True)

from selenium import webdriver  # noqa: E402  (after the skips above)
from selenium.webdriver.chrome.service import Service  # noqa: E402

from fastbp.playground_app.server import free_port  # noqa: E402
from repo_paths import EXAMPLES  # noqa: E402

WAIT_SECONDS = 90  # far beyond what any step needs, even on a busy two-core machine
STOP_SECONDS = 15  # Ctrl-C must stop the server within this
# Finds elements by a CSS selector through Bokeh's shadow roots: every Panel widget lives in one.
DEEP = """
function deep(root, selector, found) {
  root.querySelectorAll(selector).forEach(e => found.push(e));
  root.querySelectorAll('*').forEach(e => { if (e.shadowRoot) deep(e.shadowRoot, selector, found); });
  return found;
}
"""


def wait_for(condition, what):
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.1)


@pytest.fixture(scope="module")
def server():
    """``fastbp playground`` on a free port; stopped with Ctrl-C (SIGINT), which must end it cleanly."""
    port = free_port("127.0.0.1")
    process = subprocess.Popen([sys.executable, "-m", "fastbp", "playground", "--port", str(port), "--no-browser"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first_line = process.stdout.readline()
    assert "fastbp playground at http://localhost:%d/" % port in first_line, first_line
    yield process, "http://localhost:%d/" % port
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=STOP_SECONDS)
    assert process.returncode == 0, output
    # stopped, with no traceback through fastbp's code (Tornado may log a closing connection's)
    assert "fastbp playground: stopped" in output and "fastbp/" not in output, output


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1250"):
        options.add_argument(argument)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


class Page:
    """One tab of the playground."""

    def __init__(self, driver, url):
        self.driver = driver
        driver.get(url)
        wait_for(lambda: self.text("fbp-status"), "the page to load")

    def text(self, element_id):
        return self.driver.execute_script(
            DEEP + "var e = deep(document, '#%s', []); return e.length ? e[0].textContent : null;" % element_id)

    def passes(self):
        return int(self.text("fbp-passes"))

    def click(self, key):
        clicked = self.driver.execute_script(
            DEEP + "var host = deep(document, '.fbp-%s', [])[0];"
                   "var button = deep(host.shadowRoot, 'button', [])[0]; button.click(); return true;" % key)
        assert clicked

    def field(self, name):
        """The text of a control, as the user sees it."""
        return self.driver.execute_script(
            DEEP + "var host = deep(document, '.fbp-%s', [])[0];"
                   "var input = deep(host.shadowRoot, 'input, select', [])[0]; return input.value;" % name)

    def type_into(self, name, text):
        """Type text into a control and leave it, as a user does (the change event)."""
        self.driver.execute_script(
            DEEP + "var host = deep(document, '.fbp-%s', [])[0];"
                   "var input = deep(host.shadowRoot, 'input, select', [])[0]; input.value = arguments[0];"
                   "input.dispatchEvent(new Event('input', {bubbles: true}));"
                   "input.dispatchEvent(new Event('change', {bubbles: true}));" % name, text)

    def query(self):
        return {name: values[-1] for name, values in parse_qs(urlparse(self.driver.current_url).query).items()}


def test_the_page_loads_with_the_default_settings(server, browser):
    page = Page(browser, server[1])
    assert page.passes() == 0 and "paused" in page.text("fbp-status")
    assert page.field("dataset") == "moons" and page.field("hidden") == "3"
    assert page.text("fbp-message") == ""


def test_a_changed_control_then_play_trains_those_settings(server, browser):
    page = Page(browser, server[1])
    page.type_into("hidden", "5")
    wait_for(lambda: page.query().get("hidden") == "5", "the address to follow the control")
    page.click("play")
    wait_for(lambda: page.passes() > 100, "training")
    page.click("pause")
    assert page.query()["hidden"] == "5" and page.text("fbp-message") == ""


def test_the_lecture_preset_shows_fastbp_trains_losses(server, browser):
    page = Page(browser, server[1])
    page.click("lecture")
    wait_for(lambda: page.query().get("test_percent") == "0", "the preset")
    page.click("play")
    printed = wait_for(lambda: (page.text("fbp-printed") or "").count("\n") >= 1 and page.text("fbp-printed"),
                       "the loss after pass 1000")
    page.click("pause")
    X, y = fastbp.datasets.make_moons(200, noise=0.20, seed=0)
    run = fastbp.train(X, y, 3, num_passes=1001, loss_every=1000, epsilon=0.01, reg_lambda=0.01, seed=0)
    expected = ["Loss after iteration %i: %f" % (i, loss) for i, loss in zip(run.loss_passes, run.losses)]
    assert printed.splitlines()[:2] == expected
    # and the numbers the lecture printed
    assert expected == ["Loss after iteration 0: 0.432387", "Loss after iteration 1000: 0.068947"]


def test_an_address_with_settings_opens_them(server, browser):
    page = Page(browser, server[1] + "?dataset=spiral&samples=1000&hidden=20,20&activation=relu&epsilon=0.001"
                                     "&features=x1,x2,sin(x1)&show_test=0")
    assert (page.field("dataset"), page.field("samples"), page.field("hidden")) == ("spiral", "1000", "20,20")
    assert (page.field("activation"), page.field("epsilon")) == ("relu", "0.001")
    assert page.text("fbp-message") == ""
    # 1000 points with 20% held out: the training loss shown is that of 800 spiral points
    train_loss = float(page.text("fbp-train-loss"))
    from fastbp.playground_app import data, session, settings
    chosen = settings.parse(page.query())[0]
    points = data.make_data(chosen)
    X = data.features(points.X_train, chosen.features)
    model = session.initial_model(chosen, X.shape[1], points.num_classes)
    assert "%.6f" % fastbp.calculate_loss(model, X, points.y_train, chosen.l2) == "%.6f" % train_loss


def test_a_bad_value_in_the_address_or_a_control_gets_a_message(server, browser):
    page = Page(browser, server[1] + "?samples=-5&epsilon=abc")
    message = page.text("fbp-message")
    assert "samples: '-5' must be an integer from" in message and "step size epsilon: 'abc'" in message
    assert page.field("samples") == "200" and page.passes() == 0  # the defaults, and a working page
    page.type_into("hidden", "3,0")
    wait_for(lambda: "hidden layers: '3,0'" in page.text("fbp-message"), "the control's message")
    page.click("play")  # the page still trains with the last good settings
    wait_for(lambda: page.passes() > 0, "training after a bad value")
    page.click("pause")


def test_a_diverging_run_stops_with_a_message(server, browser):
    page = Page(browser, server[1] + "?activation=relu&epsilon=50")
    page.click("play")
    message = wait_for(lambda: "diverged" in page.text("fbp-message") and page.text("fbp-message"), "the divergence")
    assert re.search(r"training diverged at pass \d+", message)
    stopped_at = page.passes()
    time.sleep(1)
    assert page.passes() == stopped_at and "paused" in page.text("fbp-status")


def test_two_tabs_do_not_interfere(server, browser):
    first = Page(browser, server[1] + "?dataset=xor")
    first_tab = browser.current_window_handle
    browser.switch_to.new_window("tab")
    second = Page(browser, server[1] + "?dataset=circles&stop_at=300")
    second.click("play")
    wait_for(lambda: second.passes() == 300, "the second tab's 300 passes")
    browser.switch_to.window(first_tab)
    assert first.passes() == 0 and first.field("dataset") == "xor"
    first.type_into("hidden", "4")
    browser.switch_to.window(second.driver.window_handles[-1])
    assert second.field("hidden") == "3" and second.passes() == 300 and second.field("dataset") == "circles"
    browser.close()
    browser.switch_to.window(first_tab)


def _cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads the server's processor time from /proc")
def test_closing_a_tab_stops_its_training(server, browser):
    process, url = server
    browser.switch_to.new_window("tab")
    page = Page(browser, url + "?hidden=20,20&dataset=spiral&samples=1000")
    page.click("play")
    wait_for(lambda: page.passes() > 0, "training")
    browser.get("about:blank")  # the page's session closes
    time.sleep(4)  # the server notices a closed session within about a second
    before = _cpu_seconds(process.pid)
    time.sleep(2)
    # a training tab keeps a core busy (about 2 s in 2 s); a stopped one leaves the server idle
    assert _cpu_seconds(process.pid) - before < 0.5


def test_the_stable_epsilon_button_sets_a_step_below_the_limit(server, browser):
    page = Page(browser, server[1] + "?test_percent=0&epsilon=0.02&stop_at=500")
    page.click("play")
    # the run stops at pass 500, whose sharpness is the last measured
    text = wait_for(lambda: "after 500 passes" in page.text("fbp-stability") and page.text("fbp-stability"),
                    "the sharpness after pass 500")
    sharpness = float(re.search(r"Sharpness ([0-9.e+]+) after", text).group(1))
    page.click("stable")
    epsilon = float(wait_for(lambda: page.field("epsilon") != "0.02" and page.field("epsilon"), "the new epsilon"))
    # half the stability limit 2/sharpness, rounded down to two digits
    assert 0.4 / sharpness < epsilon <= 1.0 / sharpness * (1 + 1e-3)
    wait_for(lambda: page.query().get("epsilon") == page.field("epsilon"), "the address to follow")


@pytest.fixture(scope="module")
def server_with_backprop(tmp_path_factory):
    """``fastbp playground --backprop`` with a solution that forgets dW1's L2 term."""
    solution = str(EXAMPLES / "backprop_solution.py")
    buggy = tmp_path_factory.mktemp("student") / "no_l2.py"
    with open(solution) as original:
        buggy.write_text(original.read().replace("dW1 += reg_lambda * W1", "pass"))
    port = free_port("127.0.0.1")
    process = subprocess.Popen([sys.executable, "-m", "fastbp", "playground", "--port", str(port), "--no-browser",
                                "--backprop", str(buggy)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first_line = process.stdout.readline()
    assert "fastbp playground at" in first_line, first_line
    yield "http://localhost:%d/" % port
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=STOP_SECONDS)


def test_a_students_backprop_is_trained_beside_the_reference(server_with_backprop, browser):
    page = Page(browser, server_with_backprop + "?test_percent=0")
    page.click("play")
    text = wait_for(lambda: "the runs part" in (page.text("fbp-student") or "") and page.text("fbp-student"),
                    "the student's run to part from the reference's")
    page.click("pause")
    # the checker's verdict on the file, and the pass and gradient where the runs part
    assert "the runs part at pass 0: your dW1" in text
    assert "FAILED: dW1 is wrong" in text and "missing regularisation" in text


def test_a_students_backprop_follows_a_wider_network_and_names_one_it_cannot_train(server_with_backprop, browser):
    page = Page(browser, server_with_backprop + "?test_percent=0&hidden=7&batch=50&dataset=blobs")
    page.click("play")
    text = wait_for(lambda: "the runs part" in (page.text("fbp-student") or "") and page.text("fbp-student"),
                    "the student's run on H = 7 with minibatches to part from the reference's")
    page.click("pause")
    assert "the runs part at pass 0: your dW1" in text
    page.type_into("activation", "relu")
    wait_for(lambda: "cannot train this network: the activation is relu" in (page.text("fbp-student") or ""),
             "the message that the student's function cannot train a ReLU network")
