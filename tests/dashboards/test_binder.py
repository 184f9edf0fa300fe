"""The Binder links, short of Docker: a Jupyter server as Binder starts it, opened where the links point.

Binder (repo2docker) builds ``binder/`` into an image, runs ``binder/postBuild`` in
the repository folder, and starts a Jupyter server rooted there behind a
``/user/<name>/`` prefix; the README's links add ``urlpath=lab`` or
``urlpath=voila/render/notebooks/dashboards/<name>.ipynb``. Here the sample project
(built as postBuild builds, on a sample) is served that way, with Voila running as
the Jupyter server's extension -- not ``nbprod dashboard`` -- and without any
``NBPROD_*`` variable, so the dashboards must find the project from where they are.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
import urllib.request

import pytest

from conftest import REPO, free_port, serving

PREFIX = "/user/binder-test/"
README_LINK = re.compile(r"https://mybinder\.org/v2/gh/[^/\s`]+/[^/\s`]+/main\?urlpath=([^\s`]+)")


def readme_urlpaths() -> list[str]:
    return README_LINK.findall((REPO / "README.md").read_text())


def test_binder_files_match_the_project():
    runtime = (REPO / "binder" / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime), runtime
    minor = int(runtime.split(".")[1])
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert re.fullmatch(r">=3\.\d+", requires.replace(" ", "").split(",")[0]), requires
    assert minor >= int(requires.replace(" ", "").split(",")[0].split(".")[1])
    post_build = REPO / "binder" / "postBuild"
    assert post_build.stat().st_mode & 0o111, "binder/postBuild must be executable"
    script = post_build.read_text()
    assert "set -euo pipefail" in script and "pip install" in script and "nbprod build" in script
    paths = readme_urlpaths()
    assert "lab" in paths
    dashboards = [path for path in paths if path.startswith("voila/render/")]
    assert sorted(dashboards) == ["voila/render/notebooks/dashboards/drift_report.ipynb",
                                  "voila/render/notebooks/dashboards/model_report.ipynb"]
    for path in dashboards:
        assert (REPO / path.removeprefix("voila/render/")).is_file(), path


@pytest.fixture(scope="module")
def binder_server(sample, tmp_path_factory):
    """A Jupyter server rooted at the sample project behind a Binder-like prefix; yields its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "jupyter", "server", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", f"--ServerApp.base_url={PREFIX}", "--IdentityProvider.token=",
               "--ServerApp.password=", "--allow-root", f"--ServerApp.root_dir={sample.project}"]
    base = f"http://127.0.0.1:{port}{PREFIX}"
    with serving(command, sample.env(), sample.project, tmp_path_factory.mktemp("binder") / "server.log",
                 base + "api"):
        yield base


@pytest.mark.browser
@pytest.mark.slow
def test_binder_links_open_jupyterlab_and_both_dashboards(binder_server, browser):
    from nbprod.dashboards.browser import open_page

    with urllib.request.urlopen(binder_server + "lab", timeout=60) as response:
        assert response.status == 200 and "JupyterLab" in response.read().decode()
    # JupyterLab lists and opens the notebooks (Ploomber's server extension broke every file request)
    with urllib.request.urlopen(binder_server + "api/contents/notebooks/train.ipynb", timeout=60) as response:
        model = json.loads(response.read())
    assert model["type"] == "notebook" and model["content"]["cells"]
    minimum = {"model_report": 5, "drift_report": 3}
    for path in readme_urlpaths():
        if not path.startswith("voila/render/"):
            continue
        name = path.rsplit("/", 1)[1].removesuffix(".ipynb")
        state = open_page(browser, binder_server + path, minimum[name], 180)
        headline = browser.find_element("css selector", ".nbprod-headline").text
        assert re.search(r"Model v\d+ .*serving", headline), (name, headline)
        assert state["images"] >= minimum[name]
        assert "Traceback" not in browser.find_element("tag name", "body").text
