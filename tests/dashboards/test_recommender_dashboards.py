"""The recommender's dashboards on one tiny project (written by ``nbprod new --template recommender``, with an
evaluation and two monitored weeks): ``nbprod dashboard --snapshot`` writes both static pages, and Voila serves
both to headless Chromium, rendered with their headline and figures, no error, no code."""

from __future__ import annotations

import re

import pytest

from conftest import free_port, serving
from test_browser import assert_clean, open_dashboard
from unit.recommender.test_dashboards import write_project

from nbprod import cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("recommender-dashboards")
    return write_project(root / "movies", root)


def test_nbprod_dashboard_snapshot_writes_both_recommender_dashboards(project, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert cli.main(["dashboard", "--snapshot", "--project", str(project)]) == 0
    for name in ("model_report", "drift_report"):
        page = (project / "reports" / "dashboards" / f"{name}.html").read_text()
        assert "Traceback" not in page and "could not be shown" not in page and "from nbprod" not in page, name
        assert re.search(r'class="nbprod-headline', page) and page.count("<img") >= 1, name
    model = (project / "reports" / "dashboards" / "model_report.html").read_text()
    assert "The gate has not decided yet." in model and "cold-start users" in model
    drift = (project / "reports" / "dashboards" / "drift_report.html").read_text()
    assert "Latest window from 2024-01-08" in drift and "Popularity shift and cold-start share" in drift


@pytest.mark.browser
def test_both_recommender_dashboards_render_in_chromium(project, browser, tmp_path):
    from nbprod.dashboards.command import voila_command
    from nbprod.dashboards.snapshot import dashboard_env

    folder = project / "notebooks" / "dashboards"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dashboard_env(project, tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    with serving(voila_command(folder, port, no_browser=True), env, folder, tmp_path / "voila.log", base + "/"):
        _, text = open_dashboard(browser, f"{base}/voila/render/model_report.ipynb", min_images=1)
        headline = browser.find_element("css selector", ".nbprod-headline").text
        assert re.search(r"The best candidate is \w+; on the test period its ndcg@5 for known users: [\d.]+ vs "
                         r"[\d.]+ for the popularity baseline", headline), headline
        assert "Known and cold-start users against the baseline" in text and "Example recommendations" in text
        assert_clean(browser, text)

        _, text = open_dashboard(browser, f"{base}/voila/render/drift_report.ipynb", min_images=1)
        headline = browser.find_element("css selector", ".nbprod-headline").text
        assert headline.startswith("Latest window from 2024-01-08 (2 requests, model v4)"), headline
        assert "Decisions" in text and "no_action" in text
        assert_clean(browser, text)
