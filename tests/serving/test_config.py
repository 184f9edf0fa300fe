"""The service's configuration comes from the project catalog: env.yaml's values, no second set of defaults."""

from __future__ import annotations

import dataclasses

from nbprod.project import Project
from nbprod.serving import BATCH_WAIT_MS, MAX_BATCH_ROWS
from nbprod.serving.app import ServeConfig

from project_copy import REPO


def test_every_setting_of_the_service_comes_from_the_project(tmp_path, monkeypatch):
    monkeypatch.setenv("NBPROD_TOKEN", "secret")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    project = Project.load(REPO, overrides=["serve.port=9001", f"serve.prediction_log={tmp_path / 'log'}",
                                            "registry.model_name=mine", "serve.max_body_mb=1",
                                            "serve.max_in_flight=7", "serve.allowed_hosts=[api.example.com]"])
    config = ServeConfig.from_project(project, host=None, max_batch_rows=16)
    assert (config.model_name, config.alias, config.port, config.host) == ("mine", "champion", 9001, "127.0.0.1")
    assert config.tracking_uri == project.tracking_uri() and config.log_folder == tmp_path / "log"
    assert config.token == "secret" and config.max_body_bytes == 2**20
    assert config.max_batch_rows == 16 and config.batch_wait_ms == BATCH_WAIT_MS
    assert config.guard.max_in_flight == 7 and config.guard.allowed_hosts == ("api.example.com",)
    assert config.guard.parse_in_thread_bytes == project.settings["serve"]["parse_in_thread_kb"] * 1024


def test_only_the_command_line_tuning_has_defaults_in_code():
    defaults = {f.name: f.default for f in dataclasses.fields(ServeConfig)
                if f.default is not dataclasses.MISSING}
    assert defaults == {"max_batch_rows": MAX_BATCH_ROWS, "batch_wait_ms": BATCH_WAIT_MS}
