"""Headless Chromium for served dashboards: start it, and wait until a Voila page has rendered.

Used by the browser tests and ``benchmarks/bench_dashboards.py`` (Selenium with the
system's chromedriver; Selenium Manager never runs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
#: Headless, no first-run work, no background traffic.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage")
#: Offline, as on a CI runner or behind a firewall: hosts other than loopback fail at once.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"

#: The page's state: Voila's spinner, the rendered cells, images, headline, widgets not drawn yet.
STATE_JS = (
    "return {loading: !!document.getElementById('loading'),"
    " shown: (document.getElementById('rendered_cells') || {style: {}}).style.display !== 'none',"
    " images: document.querySelectorAll('#rendered_cells img').length,"
    " headline: document.querySelectorAll('.nbprod-headline').length,"
    " pending: document.querySelectorAll('.jupyter-widgets-disconnected, .lm-Widget.p-mod-hidden').length}")


def chrome(profile: Path, window: str = "1280,1400", offline: bool = True) -> Any:
    """A headless Chromium WebDriver whose ``get()`` returns at once (callers wait for the page)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (*FLAGS, f"--window-size={window}", f"--user-data-dir={profile}", *([OFFLINE] if offline else [])):
        options.add_argument(argument)
    options.page_load_strategy = "none"
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(180)
    return driver


def rendered(driver: Any, min_images: int) -> dict[str, Any] | bool:
    """The page's state once Voila has rendered it (spinner gone, cells shown, a headline and at least
    ``min_images`` images), else False: a condition for ``WebDriverWait.until``."""
    state = driver.execute_script(STATE_JS)
    done = not state["loading"] and state["shown"] and state["headline"] and state["images"] >= min_images
    return state if done else False


def open_page(driver: Any, url: str, min_images: int, timeout: float) -> dict[str, Any]:
    """Load ``url`` and wait until it has rendered; return its state."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: rendered(d, min_images))
