"""How often the playground redraws while it trains: in the browser and on the server.

Starts ``fastbp playground``, opens it in headless Chromium (Debian's chromium and
chromium-driver, with Selenium), presses play, and for MEASURE_SECONDS counts the
decision boundary's new pictures as the browser receives them (Bokeh document
changes), beside the server's own count shown on the page. Run from the
repository root, with the extra installed (pip install "fastbp[playground]" selenium):

    python bench/playground_redraws.py

The numbers depend on the machine and on what else runs on it; the script prints them
with the machine's processor and core count.
"""

import os
import platform
import signal
import subprocess
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from fastbp.playground_app.server import free_port  # noqa: E402

WARM_UP_SECONDS = 3
MEASURE_SECONDS = 10
PROBLEMS = {
    "the lecture's (moons, 200 points, H = 3)": "?test_percent=0",
    "a (20, 20) tanh network on 1000 spiral points": "?dataset=spiral&samples=1000&test_percent=0&hidden=20,20",
}
DEEP = """
function deep(root, selector, found) {
  root.querySelectorAll(selector).forEach(e => found.push(e));
  root.querySelectorAll('*').forEach(e => { if (e.shadowRoot) deep(e.shadowRoot, selector, found); });
  return found;
}
"""
# Counts the boundary picture's updates: the one image data source with a single image.
COUNT_UPDATES = """
window.fbpUpdates = 0;
Bokeh.documents[0].on_change((event) => {
  const data = event.model && event.model.data;
  if (event.attr === 'data' && data && data.image && data.dw && data.dw.length === 1) window.fbpUpdates += 1;
});
"""


def processor():
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def read(driver, element_id):
    return driver.execute_script(DEEP + "return deep(document, '#%s', [])[0].textContent" % element_id)


def measure(driver, url):
    driver.get(url)
    deadline = time.monotonic() + 60
    while not driver.execute_script(DEEP + "return deep(document, '#fbp-status', []).length"):
        assert time.monotonic() < deadline, "the page did not load"
        time.sleep(0.2)
    driver.execute_script(DEEP + "deep(deep(document, '.fbp-play', [])[0].shadowRoot, 'button', [])[0].click();")
    time.sleep(WARM_UP_SECONDS)
    driver.execute_script(COUNT_UPDATES)
    server_counts, passes = [], []
    started = time.monotonic()
    while time.monotonic() - started < MEASURE_SECONDS:
        time.sleep(1)
        server_counts.append(int(read(driver, "fbp-redraws")))
        passes.append(float(read(driver, "fbp-rate")))
    browser_rate = driver.execute_script("return window.fbpUpdates") / (time.monotonic() - started)
    return browser_rate, sum(server_counts) / len(server_counts), sum(passes) / len(passes)


def main():
    port = free_port("127.0.0.1")
    server = subprocess.Popen([sys.executable, "-m", "fastbp", "playground", "--port", str(port), "--no-browser"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    server.stdout.readline()
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1250"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        print("%s, %d cores; server and headless Chromium on the same machine" % (processor(), os.cpu_count()))
        for name, query in PROBLEMS.items():
            browser_rate, server_rate, passes = measure(driver, "http://localhost:%d/%s" % (port, query))
            print("%s: %.1f redraws/s received by the browser, %.1f/s drawn by the server, %.0f passes/s"
                  % (name, browser_rate, server_rate, passes))
    finally:
        driver.quit()
        server.send_signal(signal.SIGINT)
        server.wait(15)


if __name__ == "__main__":
    main()
