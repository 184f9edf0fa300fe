"""Settings values are data, never templates: a Jinja payload in a setting reaches the tasks as text.

Ploomber renders its env with Jinja, unsandboxed; before the fix, each payload below ran its shell
command while the DAG was loaded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.datasets import load_breast_cancer

from nbprod.settings import SettingsError
from project_copy import REPORTING_TASKS, copy_project

pytestmark = pytest.mark.slow


def payload(marker: Path) -> str:
    """A setting value that, rendered as a template, creates ``marker``."""
    return "{{ env.__class__.__init__.__globals__['system']('touch " + str(marker) + "') }}"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project on a small CSV (breast cancer), without the reporting tasks."""
    folder = copy_project(tmp_path_factory.mktemp("literal") / "project", git=False, drop_tasks=REPORTING_TASKS)
    frame = load_breast_cancer(as_frame=True).frame.head(120)
    frame.to_csv(folder / "data.csv", index=False)
    return folder


BYOD = ("data.source=data.csv", "data.time_column=null", "data.schema=null", "data.drop_columns=[]")


def test_build_with_a_template_in_set_runs_nothing_and_fails_on_the_unknown_column(project, tmp_path,
                                                                                  monkeypatch, capsys):
    from nbprod.cli import main

    marker = tmp_path / "injected.txt"
    monkeypatch.chdir(tmp_path)
    target = payload(marker)
    code = main(["build", "--project", str(project), *sum((["--set", item] for item in BYOD), []),
                 "--set", f'data.target="{target}"'])
    assert not marker.exists()
    assert code == 1
    err = capsys.readouterr().err
    assert "validate failed" in err and "required column is missing" in err
    assert target in err  # the literal text was the column looked for


def test_env_file_and_nbprod_set_values_reach_the_notebook_parameters_literally(project, tmp_path, monkeypatch):
    from nbprod.notebook import interactive_parameters

    marker = tmp_path / "injected.txt"
    env_file = tmp_path / "my-env.yaml"
    settings = (project / "env.yaml").read_text().replace("target: late", "target: " + repr(payload(marker)))
    env_file.write_text(settings)
    column = "{% for x in range(3) %}{{ lipsum.__globals__['os'].system('touch " + str(marker) + "') }}{% endfor %}"
    monkeypatch.setenv("NBPROD_PROJECT", str(project))
    monkeypatch.setenv("NBPROD_ENV_FILE", str(env_file))
    monkeypatch.setenv("NBPROD_SET", "; ".join([*BYOD, f"products={tmp_path / 'b'}", f"reports={tmp_path / 'r'}",
                                                f'data.drop_columns=["{column}", flight]']))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    prepare = interactive_parameters("prepare")
    validate = interactive_parameters("validate")
    assert not marker.exists()
    assert prepare["target"] == validate["target"] == payload(marker)
    assert prepare["drop_columns"] == [column, "flight"]
    assert validate["named_columns"][:2] == [column, "flight"]
    # the pipeline's own placeholders still resolve
    assert prepare["product"]["train"] == str(tmp_path / "b" / "data" / "train.parquet")
    assert prepare["upstream"]["get"] == str(tmp_path / "b" / "data" / "raw.parquet")


def test_a_template_in_a_path_setting_is_refused_before_ploomber_sees_it(project, tmp_path):
    from nbprod.pipeline.dag import load_dag
    from nbprod import settings as settings_module

    marker = tmp_path / "injected.txt"
    settings = settings_module.load(project, overrides=[*BYOD, f'products="{payload(marker)}"'])
    with pytest.raises(SettingsError, match="setting products: .* is not allowed"):
        load_dag(project, settings)
    assert not marker.exists()
