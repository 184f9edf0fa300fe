"""The dashboards in a real browser: Voila serving them, headless Chromium rendering them.

Each page must finish rendering with its headline (real numbers), its figures,
no error output and no traceback; the drift report's window picker must redraw
its output. Screenshots go to ``<sample reports>/screenshots/`` and are copied
to the repository's ``reports/screenshots/`` for review.
"""

from __future__ import annotations

import base64
import re
import shutil
import time
from pathlib import Path

import pytest

from conftest import REPO
from pages import external_loads

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RENDER_TIMEOUT = 180


def open_dashboard(driver, url: str, min_images: int):
    """Load a Voila page and wait until it has rendered (spinner gone, widgets drawn, images there)."""
    from selenium.webdriver.common.by import By

    from nbprod.dashboards.browser import open_page

    state = open_page(driver, url, min_images, RENDER_TIMEOUT)
    time.sleep(1.0)  # let the last images decode before the screenshot
    return state, driver.find_element(By.TAG_NAME, "body").text


def assert_clean(driver, text: str) -> None:
    from selenium.webdriver.common.by import By

    assert external_loads(driver.page_source) == [], "the page loads files from outside the machine"
    errors = driver.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output[data-mime-type*=error]")
    assert not errors, [e.text[:500] for e in errors]
    assert "Traceback" not in text
    assert "Error" not in " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, ".jp-RenderedText"))
    code = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".jp-CodeCell .jp-InputArea, .jp-CodeMirrorEditor")
            if e.is_displayed() and e.text.strip()]
    assert not code, f"code is shown: {code[:2]}"
    for fragment in ("from nbprod", "import ", "def show_", "ui.selector("):
        assert fragment not in text, f"code is shown: {fragment!r}"


def screenshot(driver, sample, name: str) -> Path:
    """A full-page PNG into the sample's reports/screenshots and the repository's reports/screenshots."""
    # Voila's page scrolls inside its own containers: grow the window to the tallest of them.
    height = driver.execute_script(
        "let h = Math.max(document.body.scrollHeight, document.documentElement.scrollHeight);"
        "for (const e of document.querySelectorAll('body *')) {"
        "  if (e.scrollHeight > e.clientHeight + 10) { h = Math.max(h, e.scrollHeight + e.getBoundingClientRect().top); } }"
        "return Math.ceil(h);")
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, min(int(height) + 120, 16000))
    time.sleep(1.0)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    driver.set_window_size(width, 1400)
    target = sample.reports / "screenshots" / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(base64.b64decode(shot["data"]))
    copy = REPO / "reports" / "screenshots" / f"{name}.png"
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(target, copy)
    return target


def test_model_report_renders_in_chromium(voila, browser, sample):
    state, text = open_dashboard(browser, f"{voila}/voila/render/model_report.ipynb", min_images=5)
    first, second = sample.summary["first"], sample.summary["second"]
    headline = browser.find_element("css selector", ".nbprod-headline").text
    assert re.search(rf"Model v{first['version']} \(.+\) is serving\.", headline), headline
    assert re.search(r"On [\d,]+ test rows from .+ 2013", headline), headline
    assert re.search(r"catches \d+% of the cases that were late", headline), headline
    assert re.search(r"ROC AUC 0\.\d{3}", headline), headline
    assert f"v{second['version']} rejected" in headline and "not better than the model serving" in headline
    assert "Champion and challengers" in text and "Version history" in text
    assert "naive baseline" in text
    assert state["images"] >= 5  # metric bars, ROC/PR, confusion, importance, version timeline
    assert browser.find_elements("css selector", ".widget-dropdown select"), "no build/version picker"
    assert_clean(browser, text)
    assert screenshot(browser, sample, "model_report").stat().st_size > 20_000


def test_drift_report_renders_and_switches_windows(voila, browser, sample):
    from selenium.webdriver.support.ui import Select, WebDriverWait

    history = sample.history
    latest = sample.headline_window["drift"]
    state, text = open_dashboard(browser, f"{voila}/voila/render/drift_report.ipynb", min_images=3)
    headline = browser.find_element("css selector", ".nbprod-headline").text
    expected = f"Model v{sample.summary['first']['version']} is serving; " \
               f"{latest['n_drifted']} of {latest['n_columns']} features drifted in the latest"
    assert expected in headline, headline
    assert "vnan" not in headline and "nan)" not in headline
    assert re.search(r", [\d,]+ predictions\)", headline), headline
    assert "Last action" in headline and "rejected" in headline, headline
    assert "Drift over time" in text and "feature by feature" in text and "Pick a window." in text
    assert str(sample.project) not in text  # paths are shown relative to the project
    assert_clean(browser, text)
    assert screenshot(browser, sample, "drift_report").stat().st_size > 20_000

    # Pick the first window: the per-feature output is redrawn for it.
    select = Select(browser.find_element("css selector", ".widget-dropdown select"))
    assert len(select.options) == len(history["windows"])
    first = history["windows"][0]["drift"]
    select.select_by_index(len(select.options) - 1)  # newest first: the last option is the first window
    wanted = f"{first['n_drifted']} of {first['n_columns']} features drifted"
    WebDriverWait(browser, 60).until(
        lambda d: wanted in d.find_element("css selector", ".nbprod-picked").text
        and d.find_elements("css selector", ".nbprod-picked img"))
    assert_clean(browser, browser.find_element("tag name", "body").text)
    screenshot(browser, sample, "drift_report_first_window")
