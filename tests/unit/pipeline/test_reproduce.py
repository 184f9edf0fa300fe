"""nbprod.pipeline.reproduce: the recorded settings read back from a build's params, and the comparison."""

from __future__ import annotations

import pytest
from project_copy import REPO

from nbprod import settings as settings_module, tracking
from nbprod.pipeline.reproduce import build_settings, compare_metrics, parse_param, recorded_settings, run_key


def test_the_settings_read_back_from_a_builds_params_are_the_settings():
    settings = settings_module.load(REPO, overrides=["data.positive_class=1", "split.test_start=201309",
                                                    "monitor.performance_floor=null", "sample_frac=0.05"])
    params = {key: str(value) for key, value in tracking.flatten(settings).items()}  # as a build logs them
    assert recorded_settings(params) == settings
    settings_module.check(recorded_settings(params))


def test_a_build_recorded_before_a_newer_setting_is_rebuilt_with_its_default():
    settings = settings_module.load(REPO)
    params = {key: str(value) for key, value in tracking.flatten(settings).items()
              if key != "serve.max_in_flight_mb" and not key.startswith("alerts.")}
    rebuilt, defaults = build_settings(params)
    settings_module.check(rebuilt)
    assert rebuilt == settings
    assert dict(defaults)["serve.max_in_flight_mb"] == settings["serve"]["max_in_flight_mb"]
    assert {name.split(".")[0] for name, _ in defaults} == {"serve", "alerts"}
    assert "using nbprod's defaults" in settings_module.defaults_notice(defaults, "build abc")


def test_a_build_without_a_data_setting_is_not_completed():
    params = {key: str(value) for key, value in tracking.flatten(settings_module.load(REPO)).items()
              if key != "data.target"}
    rebuilt, _ = build_settings(params)
    with pytest.raises(settings_module.SettingsError, match="missing setting 'data.target'"):
        settings_module.check(rebuilt)


def test_params_keep_their_settings_type():
    assert parse_param("2013-08-01", (str, int)) == "2013-08-01"
    assert parse_param("None", (str, type(None))) is None
    assert parse_param("True", bool) is True
    assert parse_param("True", (str, int)) == "True"  # a text setting that reads "True" stays text
    assert parse_param("['tailnum', 'flight']", list) == ["tailnum", "flight"]
    assert parse_param("nbprod-model", str) == "nbprod-model"


def test_unknown_params_are_left_out():
    assert recorded_settings({"seed": "42", "retired.setting": "1"}) == {"seed": 42}


def test_equal_metrics_reproduce_and_every_difference_is_named():
    recorded = {"train/hgb": {"valid.roc_auc": 0.71, "seconds": 1.0}, "promote": {"budget.p99_ms": 3.1},
                "evaluate": {"test.roc_auc": 0.7, "baseline.roc_auc": 0.5}}
    same = {"train/hgb": {"valid.roc_auc": 0.71, "seconds": 1.0},
            "promote": {"budget.p99_ms": 2.9, "champion.roc_auc": 0.69},  # the fresh store has no champion
            "evaluate": {"test.roc_auc": 0.7, "baseline.roc_auc": 0.5}}
    assert compare_metrics(recorded, same) == ([], 4, ["promote: budget.p99_ms", "promote: champion.roc_auc"])
    changed = {"train/hgb": {"valid.roc_auc": 0.72, "seconds": 1.0}, "promote": {}}
    differences, compared, _ = compare_metrics(recorded, changed)
    assert differences == ["run evaluate: only in the recorded build",
                           "train/hgb: valid.roc_auc recorded 0.71, reproduced 0.72"] and compared == 1


def test_a_candidate_run_is_keyed_by_task_and_candidate():
    assert run_key({"nbprod.task": "train", "nbprod.candidate": "hgb"}, "hgb") == "train/hgb"
    assert run_key({}, "hgb") == "hgb"


def test_a_recommender_builds_settings_are_read_back_with_its_own_schema():
    settings = settings_module.load(REPO / "templates" / "recommender",
                                    overrides=["sample_frac=0.2", "fallback.segment=country", "registry.margin=-0.001"])
    params = {key: str(value) for key, value in tracking.flatten(settings).items()}  # as a build logs them
    assert recorded_settings(params) == settings
    settings_module.check(recorded_settings(params))


def test_the_digest_of_a_recommender_build_is_that_of_its_sampled_interactions(tmp_path):
    import pandas as pd

    from nbprod.pipeline.reproduce import data_digest
    from nbprod.recommender import tasks

    table = tmp_path / "clicks.csv"
    pd.DataFrame({"who": [f"u{n % 9}" for n in range(60)], "what": [f"i{n % 7}" for n in range(60)],
                  "when": pd.date_range("2024-01-01", periods=60, freq="h").astype(str)}).to_csv(table, index=False)
    settings = settings_module.load(REPO / "templates" / "recommender", overrides=[
        f"data.source={table}", "data.user=who", "data.item=what", "data.time=when", "data.weight=null",
        "data.item_attributes=[]", "sample_frac=0.5"])
    written = tasks.interactions(str(table), "who", "what", "when", None, [], [], 0.5, settings["seed"])  # as get
    assert 0 < written["user"].nunique() < 9
    assert data_digest(settings, str(table)) == tracking.frame_digest(written)
    assert data_digest({**settings, "sample_frac": 1.0}, str(table)) != tracking.frame_digest(written)


def test_two_recommenders_are_compared_on_every_test_users_top_k(tmp_path):
    import pandas as pd

    from nbprod.pipeline.reproduce import compare_recommendations
    from nbprod.recommender import pyfunc
    from nbprod.recommender.estimator import Recommender

    frame = pd.DataFrame({"user": [f"u{n % 8}" for n in range(80)], "item": [f"i{(n * 7) % 13}" for n in range(80)],
                          "weight": 1.0})
    recorded, same, other = (Recommender("als", {"factors": 4, "iterations": 3}, seed=seed).fit(frame)
                             for seed in (0, 0, 1))
    reloaded = pyfunc.load_recommender(str(pyfunc.save_model(recorded, tmp_path / "model")))  # as reproduce loads
    users = pd.Series(["u1", "u2", "u2", "stranger"])
    assert compare_recommendations(recorded, same, users, 5) == compare_recommendations(reloaded, same, users, 5) == []
    [difference] = compare_recommendations(recorded, other, users, 5)
    assert difference.startswith("the top-5 of ") and "of the 3 test users differ (first: user u1)" in difference
