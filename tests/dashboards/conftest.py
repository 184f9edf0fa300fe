"""Fixtures for the dashboard tests.

Fast tests use small synthetic frames and a drift history made with the drift
library (:mod:`drift_fixture`). Slow tests share one sample project (session
scope): a copy of the repository's pipeline built on 2% of the rows into a temp
folder with its own MLflow store, two versions registered through the gate
(v1 promoted, v2 rejected) and a drift history of weekly windows of the new split
(:mod:`sample_build`). The browser tests add Voila serving the repository's
dashboards against that project, and headless Chromium driven by Selenium.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pytest

from nbprod.dashboards.browser import CHROMEDRIVER, CHROMIUM

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DASHBOARDS = REPO / "notebooks" / "dashboards"
sys.path.insert(0, str(HERE))

import drift_fixture  # noqa: E402
import sample_build  # noqa: E402

#: Environment variables that would point a dashboard somewhere else than the test's project.
POINTERS = ("NBPROD_PROJECT", "NBPROD_ENV_FILE", "NBPROD_SET", "NBPROD_DASHBOARD_STATIC", "NBPROD_PARENT_RUN",
            "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the pointers, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if key not in POINTERS}
    env.update(extra)
    return env


# -- fast fixtures -------------------------------------------------------------------------------


def synthetic_frames(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, new): two numeric and two categorical columns, a time column and a 0/1 target; ``new``
    drifts in ``x`` and ``colour`` from its second week on."""
    rng = np.random.default_rng(seed)

    def frame(n: int, start: str, shift: bool) -> pd.DataFrame:
        stamps = pd.Timestamp(start) + pd.to_timedelta(rng.uniform(0, 21 * 24, n), unit="h")
        late = stamps >= pd.Timestamp(start) + pd.Timedelta(days=7)
        x = rng.normal(0, 1, n) + (2.5 * late if shift else 0)
        colour = np.where(rng.uniform(size=n) < (np.where(late, 0.8, 0.3) if shift else 0.3), "red", "blue")
        return pd.DataFrame({
            "when": stamps, "x": x, "z": rng.normal(5, 2, n),
            "colour": colour, "city": rng.choice(["a", "b", "c"], n),
            "y": (rng.uniform(size=n) < 0.3).astype(int),
        }).sort_values("when").reset_index(drop=True)

    return frame(1500, "2020-01-01", False), frame(900, "2020-02-01", True)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A project folder with the repository's settings and a products folder of synthetic splits."""
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(REPO / "pipeline.yaml", folder / "pipeline.yaml")
    settings = (REPO / "env.yaml").read_text()
    (folder / "env.yaml").write_text(settings)
    train, new = synthetic_frames()
    data = folder / "build" / "data"
    data.mkdir(parents=True)
    train.to_parquet(data / "train.parquet")
    new.to_parquet(data / "new.parquet")
    return folder


@pytest.fixture()
def synthetic_history(project: Path) -> dict:
    """A drift history of the synthetic project's weekly windows (written to its reports folder)."""
    return drift_fixture.write_history(project / "build", project / "reports" / "monitoring" / "drift_history.json",
                                       target="y", time_column="when", model_version="3", retrained_version="4",
                                       retrained_decision="promoted")


# -- the sample build (slow) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """The built sample project."""

    root: Path
    project: Path
    uri: str
    summary: dict

    def env(self, **extra: str) -> dict[str, str]:
        """An environment pointing MLflow at the sample's store."""
        return clean_env(MLFLOW_TRACKING_URI=self.uri, **extra)

    @property
    def reports(self) -> Path:
        return self.project / "reports"

    @property
    def history(self) -> dict:
        return json.loads((self.reports / "monitoring" / "drift_history.json").read_text())

    @property
    def headline_window(self) -> dict:
        """The window the drift headline reports: the latest with enough rows to vote."""
        return [w for w in self.history["windows"]
                if w["rows"] >= sample_build.MIN_ROWS and w["drift"].get("drifted") is not None][-1]


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    """Build the sample project once per session (about a minute)."""
    root = tmp_path_factory.mktemp("dashboards-sample")
    project = sample_build.make_project(root / "project")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    env = clean_env(MLFLOW_TRACKING_URI=uri)
    built = sample_build.build(project, env)
    if built.returncode != 0 and "Address already in use" in built.stderr:
        built = sample_build.build(project, env)  # a kernel lost a port race with another process: go on
    if built.returncode != 0:
        pytest.fail(f"sample build failed:\n{built.stdout[-3000:]}\n{built.stderr[-5000:]}")
    done = subprocess.run([sys.executable, str(HERE / "sample_build.py"), str(project)], env=env, cwd=project,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"registering the sample versions failed:\n{done.stderr[-5000:]}")
    summary = json.loads((project / "sample.json").read_text())
    return Sample(root, project, uri, summary)


# -- Voila and the browser (slow) ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Voila exited with code {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status < 500:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    pytest.fail(f"Voila did not answer {url} within {timeout:.0f} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def voila(sample: Sample, tmp_path_factory: pytest.TempPathFactory):
    """Voila serving the repository's dashboards against the sample project; yields its base URL."""
    from nbprod.dashboards.command import voila_command
    from nbprod.dashboards.snapshot import dashboard_env

    port = free_port()
    env = dashboard_env(sample.project, tracking_uri=sample.uri, base=sample.env())
    base = f"http://127.0.0.1:{port}"
    with serving(voila_command(DASHBOARDS, port, no_browser=True), env, DASHBOARDS,
                 tmp_path_factory.mktemp("voila") / "voila.log", base + "/"):
        yield base


@contextlib.contextmanager
def serving(command: list[str], env: dict[str, str], cwd: Path, log: Path, url: str) -> Iterator[None]:
    """Run a server (output to ``log``) until the ``with`` block ends; enter once ``url`` answers."""
    from nbprod.monitoring.replay import stop_server

    with open(log, "w") as output:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for_http(url, process, 90, log)
        yield
    finally:
        stop_server(process, 15)


def ensure_browser() -> str | None:
    """None when Chromium and its driver are there (installing them if needed), else why not."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return None
    script = REPO / "scripts" / "install-browser.sh"
    try:
        done = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as error:
        return f"chromium could not be installed ({script}): {error}"
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return None
    return f"chromium could not be installed by {script}: {(done.stderr or done.stdout)[-600:]}"


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """Headless Chromium through Selenium, with the system chromedriver (Selenium Manager never runs)."""
    problem = ensure_browser()
    if problem:
        pytest.skip(problem)
    from nbprod.dashboards.browser import chrome

    driver = chrome(tmp_path_factory.mktemp("chromium-profile"))  # offline; get() returns at once
    try:
        yield driver
    finally:
        driver.quit()
