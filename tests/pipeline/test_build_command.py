"""``nbprod build`` on the shared sample build: nothing to do, and the closing lines a user reads."""

from __future__ import annotations

import argparse
import json

import pytest
from pipeline_helpers import reports_of

from nbprod.pipeline import command
from nbprod.project import Project

pytestmark = pytest.mark.slow


def test_a_build_with_nothing_to_do_still_ends_with_the_champion_reports_and_commands(sample_build, capsys):
    project, settings, _ = sample_build
    catalog = Project.load(project).with_settings(settings)
    assert command.run(argparse.Namespace(settings=settings, project=project, force=False, catalog=catalog)) == 0
    out = capsys.readouterr().out
    evidence = json.loads((reports_of(project, settings) / "promotion.json").read_text())
    model, version = settings["registry"]["model_name"], evidence["champion_after"]
    assert out.startswith("Nothing changed: all ")
    assert f"Champion: {model} version {version} (models:/{model}@{settings['registry']['alias']}): " \
           f"{evidence['metric']['name']} {evidence['metric']['candidate']:.4f} against the naive baseline's" in out
    assert "\nReports:\n  reports/eda.html\n" in out and "  reports/promotion.html\n" in out
    assert "\nNext:\n  nbprod serve " in out and "  nbprod monitor " in out
