"""nbprod.settings: reading env.yaml, overrides and the schema check."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from nbprod import settings
from nbprod.settings import SettingsError

from .helpers import REPO


@pytest.fixture
def valid() -> dict:
    """The shipped env.yaml, which must always pass the check."""
    return yaml.safe_load((REPO / "env.yaml").read_text())


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with the shipped env.yaml and an empty pipeline.yaml."""
    shutil.copy(REPO / "env.yaml", tmp_path / "env.yaml")
    (tmp_path / "pipeline.yaml").write_text("tasks: []\n")
    return tmp_path


def test_shipped_env_yaml_passes_the_check(valid):
    settings.check(valid)  # raises on any problem
    assert valid["data"]["task"] in ("classification", "regression")


def test_load_reads_env_yaml_of_the_project(project):
    loaded = settings.load(project)
    assert loaded == yaml.safe_load((project / "env.yaml").read_text())


def test_load_applies_yaml_typed_overrides(project):
    loaded = settings.load(project, overrides=[
        "seed=7", "data.drop_columns=[a, b]", "data.time_column=null", "split.valid_frac=0.3",
        "registry.budget.max_p99_ms=12.5", "tracking.experiment=other",
    ])
    assert loaded["seed"] == 7
    assert loaded["data"]["drop_columns"] == ["a", "b"]
    assert loaded["data"]["time_column"] is None
    assert loaded["split"]["valid_frac"] == 0.3
    assert loaded["registry"]["budget"]["max_p99_ms"] == 12.5
    assert loaded["tracking"]["experiment"] == "other"


def test_load_override_of_wrong_type_is_rejected(project):
    with pytest.raises(SettingsError, match=r"'seed' has the wrong type"):
        settings.load(project, overrides=["seed=many"])


def test_load_from_explicit_env_file(project, tmp_path):
    other = yaml.safe_load((project / "env.yaml").read_text())
    other["seed"] = 99
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(other))
    assert settings.load(project, env_file=path)["seed"] == 99


def test_load_missing_env_file_names_it(tmp_path):
    with pytest.raises(SettingsError, match="does not exist") as error:
        settings.load(tmp_path)
    assert str(tmp_path / "env.yaml") in str(error.value)


def test_load_empty_env_file_reports_a_missing_setting(tmp_path):
    (tmp_path / "env.yaml").write_text("")
    with pytest.raises(SettingsError, match="missing setting"):
        settings.load(tmp_path)


@pytest.mark.parametrize("text, expected", [
    ("a.b=[1,2]", (["a", "b"], [1, 2])),
    ("seed=3", (["seed"], 3)),
    ("x=1.5", (["x"], 1.5)),
    ("x=true", (["x"], True)),
    ("x=null", (["x"], None)),
    ("x=", (["x"], None)),
    ("x=a=b", (["x"], "a=b")),
    (" data.task = regression", (["data", "task"], "regression")),
    ("m={k: v}", (["m"], {"k": "v"})),
])
def test_parse_override(text, expected):
    assert settings.parse_override(text) == expected


@pytest.mark.parametrize("text", ["seed", "=3", "  =3", ""])
def test_parse_override_without_key_or_equals_fails(text):
    with pytest.raises(SettingsError, match="key.path=value"):
        settings.parse_override(text)


def test_apply_override_sets_nested_values_without_touching_others(valid):
    before = copy.deepcopy(valid)
    settings.apply_override(valid, ["data", "target"], "price")
    assert valid["data"]["target"] == "price"
    assert valid["data"]["task"] == before["data"]["task"]
    assert {k: v for k, v in valid.items() if k != "data"} == {k: v for k, v in before.items() if k != "data"}


@pytest.mark.parametrize("path, name", [
    (["nope"], "nope"),
    (["data", "nope"], "data.nope"),
    (["seed", "deeper"], "seed.deeper"),
    (["registry", "budget", "max_gpu"], "registry.budget.max_gpu"),
])
def test_apply_override_of_unknown_key_names_it(valid, path, name):
    with pytest.raises(SettingsError, match=f"unknown setting '{name}'"):
        settings.apply_override(valid, path, 1)


def test_check_rejects_unknown_key(valid):
    valid["data"]["colour"] = "red"
    with pytest.raises(SettingsError, match="unknown setting 'data.colour'"):
        settings.check(valid)


def test_check_rejects_unknown_top_level_key(valid):
    valid["extra"] = 1
    with pytest.raises(SettingsError, match="unknown setting 'extra'"):
        settings.check(valid)


def test_check_names_missing_nested_key(valid):
    del valid["split"]["test_start"]
    with pytest.raises(SettingsError, match="missing setting 'split.test_start'"):
        settings.check(valid)


@pytest.mark.parametrize("path, value", [
    (["seed"], "42"),
    (["seed"], 4.2),
    (["seed"], True),  # bool is an int subclass but not an int setting
    (["sample_frac"], False),
    (["data", "drop_columns"], "tailnum"),
    (["serve", "port"], None),
])
def test_check_rejects_wrong_type(valid, path, value):
    node = valid
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(SettingsError, match=f"'{'.'.join(path)}' has the wrong type"):
        settings.check(valid)


def test_check_accepts_int_where_a_number_is_expected(valid):
    valid["sample_frac"] = 1
    valid["registry"]["margin"] = 0
    settings.check(valid)
    assert valid["sample_frac"] == 1


@pytest.mark.parametrize("value", [None, "Yes", ">50K", 1, 0, True])
def test_positive_class_takes_any_label_or_null(project, value):
    loaded = settings.load(project, overrides=[f"data.positive_class={yaml.safe_dump(value).splitlines()[0]}"])
    assert loaded["data"]["positive_class"] == value


def test_positive_class_is_not_a_list(valid):
    valid["data"]["positive_class"] = ["Yes"]
    with pytest.raises(SettingsError, match="'data.positive_class' has the wrong type"):
        settings.check(valid)


def test_a_boolean_is_still_refused_where_none_is_allowed(valid):
    valid["train"]["n_jobs"] = True
    with pytest.raises(SettingsError, match="'train.n_jobs' has the wrong type"):
        settings.check(valid)


def test_check_rejects_scalar_where_a_mapping_is_expected(valid):
    valid["data"] = "flights.csv"
    with pytest.raises(SettingsError, match="'data' must be a mapping"):
        settings.check(valid)


@pytest.mark.parametrize("path, value", [(("data", "task"), "clustering"), (("data", "missing_target"), "impute")])
def test_check_rejects_bad_choice(valid, path, value):
    valid[path[0]][path[1]] = value
    with pytest.raises(SettingsError, match=f"'{'.'.join(path)}' must be one of .*{value}"):
        settings.check(valid)


def test_find_project_root_walks_up(tmp_path):
    (tmp_path / "pipeline.yaml").write_text("tasks: []\n")
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    assert settings.find_project_root(deep) == tmp_path.resolve()


def test_find_project_root_prefers_the_nearest(tmp_path):
    inner = tmp_path / "inner"
    (inner / "sub").mkdir(parents=True)
    (tmp_path / "pipeline.yaml").write_text("")
    (inner / "pipeline.yaml").write_text("")
    assert settings.find_project_root(inner / "sub") == inner.resolve()


def test_find_project_root_defaults_to_cwd(tmp_path, monkeypatch):
    (tmp_path / "pipeline.yaml").write_text("")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert settings.find_project_root() == tmp_path.resolve()


def test_find_project_root_ignores_a_folder_named_pipeline_yaml(tmp_path):
    (tmp_path / "pipeline.yaml").mkdir()
    with pytest.raises(SettingsError, match="no pipeline.yaml found"):
        settings.find_project_root(tmp_path)


def test_resolve_path(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert settings.resolve_path(tmp_path, "build") == tmp_path / "build"
    assert settings.resolve_path(tmp_path, "/abs/x") == Path("/abs/x")
    assert settings.resolve_path(tmp_path, "~/data.csv") == tmp_path / "home" / "data.csv"


def test_an_unquoted_date_override_is_kept_as_text():
    from nbprod import settings as settings_module

    loaded = settings_module.load(REPO, overrides=["split.new_start=2013-10-15", "monitor.current_start=2013-11-01"])
    assert loaded["split"]["new_start"] == "2013-10-15" and loaded["monitor"]["current_start"] == "2013-11-01"


@pytest.mark.parametrize("override, message", [
    ("sample_frac=2", r"'sample_frac' must be in \(0, 1\], got 2"),
    ("sample_frac=0", r"'sample_frac' must be in \(0, 1\], got 0"),
    ("train.n_jobs=0", r"'train.n_jobs' must be a number of processes \(-1: all cores\), not 0"),
    ("serve.port=70000", r"'serve.port' must be between 1 and 65535, got 70000"),
    ("serve.port=-1", r"'serve.port' must be between 1 and 65535, got -1"),
    ("serve.reload_seconds=0", r"'serve.reload_seconds' must be greater than 0, got 0"),
    ("monitor.drift_share=2", r"'monitor.drift_share' must be in \(0, 1\], got 2"),
    ("monitor.min_rows=-1", r"'monitor.min_rows' must be at least 1, got -1"),
    ("monitor.performance_drop=-0.1", r"'monitor.performance_drop' must be null or at least 0, got -0.1"),
    ("registry.budget.max_size_mb=0", r"'registry.budget.max_size_mb' must be greater than 0, got 0"),
    ("monitor.trigger_k=5", r"'monitor.trigger_k' \(5\) must not exceed 'monitor.trigger_n' \(3\)"),
    ("engine.products_url=/shared/products", r"'engine.products_url' must be null \(products in the project's "
                                              r"folders\) or s3://BUCKET/PREFIX, got '/shared/products'"),
    ("engine.products_url=s3://", r"'engine.products_url' must be null .* or s3://BUCKET/PREFIX, got 's3://'"),
])
def test_values_out_of_range_are_rejected_by_name(project, override, message):
    with pytest.raises(SettingsError, match=message):
        settings.load(project, overrides=[override])


def test_every_limit_names_a_setting_of_the_schema(valid):
    for path, (test, _) in settings.LIMITS.items():
        assert settings.expected_type(path) is not None
        assert test(settings._get(valid, path)), path  # the shipped values are inside their limits
    assert settings.load(REPO, overrides=["monitor.performance_drop=null", "train.n_jobs=-1"])
    assert settings.load(REPO, overrides=["engine.products_url=s3://team/flights"])["engine"]["products_url"] == \
        "s3://team/flights"


@pytest.mark.parametrize("override, message", [
    ("monitor.min_rows='200'", "setting 'monitor.min_rows' has the wrong type: '200' (text); expected an integer"),
    ("seed=4.2", "setting 'seed' has the wrong type: 4.2 (a number); expected an integer"),
    ("sample_frac=true", "setting 'sample_frac' has the wrong type: True (a boolean (true/false)); expected a number"),
    ("monitor.performance_floor=high",
     "setting 'monitor.performance_floor' has the wrong type: 'high' (text); expected a number or null"),
    ("data.drop_columns=tailnum", "setting 'data.drop_columns' has the wrong type: 'tailnum' (text); expected a list"),
    ("monitor.retrain=1", "setting 'monitor.retrain' has the wrong type: 1 (an integer); expected a boolean"),
])
def test_a_wrong_type_names_the_setting_the_value_and_what_is_expected(project, override, message):
    with pytest.raises(SettingsError) as error:
        settings.load(project, overrides=[override])
    assert str(error.value).startswith(message)


@pytest.mark.parametrize("override, message", [
    ("monitor.min_row=3", "unknown setting 'monitor.min_row'; did you mean 'monitor.min_rows'?"),
    ("monitr.window=7D", "unknown setting 'monitr'; did you mean 'monitor'?"),
    ("registry.budget.max_p99=5", "unknown setting 'registry.budget.max_p99'; did you mean 'registry.budget.max_p99_ms'?"),
    ("seed.deeper=1", "unknown setting 'seed.deeper': 'seed' is a single value, it has no keys"),
    ("tracking.zzz=1", "unknown setting 'tracking.zzz'; the keys of 'tracking' are auth_db, experiment, uri"),
])
def test_an_unknown_setting_names_the_nearest_known_one(project, override, message):
    with pytest.raises(SettingsError) as error:
        settings.load(project, overrides=[override])
    assert str(error.value) == message


def test_an_unknown_key_in_the_settings_file_names_the_nearest_known_one(valid):
    valid["train"]["njobs"] = 2
    with pytest.raises(SettingsError, match=r"unknown setting 'train.njobs'; did you mean 'train.n_jobs'\?"):
        settings.check(valid)


def test_a_missing_setting_says_what_it_holds(valid):
    del valid["monitor"]["min_rows"]
    with pytest.raises(SettingsError, match="missing setting 'monitor.min_rows': expected an integer"):
        settings.check(valid)


def test_every_type_of_the_schema_has_a_name():
    def leaves(node):
        for value in node.values():
            yield from leaves(value) if isinstance(value, dict) else [value]

    for expected in leaves(settings.SCHEMA):
        kinds = expected if isinstance(expected, tuple) else (expected,)
        assert all(kind in settings.TYPE_NAMES for kind in kinds), expected


# -- an env.yaml written by an older nbprod: operational settings take nbprod's defaults --------------------

def write_env(project: Path, edit) -> dict:
    """The project's env.yaml after ``edit(settings)``; returns the shipped settings, unedited."""
    shipped = yaml.safe_load((REPO / "env.yaml").read_text())
    edited = copy.deepcopy(shipped)
    edit(edited)
    (project / "env.yaml").write_text(yaml.safe_dump(edited, sort_keys=False))
    return shipped


def older(settings: dict) -> None:
    """An env.yaml from before ``serve.max_in_flight_mb`` and the ``alerts`` section."""
    del settings["serve"]["max_in_flight_mb"]
    del settings["alerts"]


def test_an_older_env_yaml_takes_the_defaults_of_what_it_lacks_and_names_them(project):
    shipped = write_env(project, older)
    used: list = []
    loaded = settings.load(project, defaults_used=used)
    assert loaded == shipped
    assert used == [("serve.max_in_flight_mb", 256), ("alerts", shipped["alerts"])]
    assert settings.load(project) == shipped  # the signature every caller uses still works


def test_a_complete_env_yaml_takes_no_default(project):
    used: list = []
    settings.load(project, defaults_used=used)
    assert used == []


def test_the_projects_values_are_never_replaced(project):
    def edit(env: dict) -> None:
        env["serve"]["port"] = 9999
        env["registry"]["budget"]["max_p99_ms"] = 50
        del env["registry"]["budget"]["max_size_mb"]
        env["monitor"]["performance_floor"] = None
        del env["monitor"]["window"]

    write_env(project, edit)
    used: list = []
    loaded = settings.load(project, defaults_used=used)
    assert loaded["serve"]["port"] == 9999 and loaded["monitor"]["performance_floor"] is None
    assert loaded["registry"]["budget"] == {"max_p99_ms": 50, "max_memory_mb": 1024, "max_size_mb": 200}
    assert used == [("registry.budget.max_size_mb", 200), ("monitor.window", "7D")]


@pytest.mark.parametrize("path", [("data", "target"), ("split", "test_start"), ("train",), ("seed",)])
def test_the_projects_data_settings_are_still_required(project, path):
    def edit(env: dict) -> None:
        node = env
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
        older(env)

    write_env(project, edit)
    with pytest.raises(SettingsError, match=f"missing setting '{'.'.join(path)}'"):
        settings.load(project)


def test_an_unknown_key_in_a_completed_section_is_still_an_error(project):
    def edit(env: dict) -> None:
        older(env)
        env["serve"]["max_inflight"] = env["serve"].pop("max_in_flight")

    write_env(project, edit)
    with pytest.raises(SettingsError, match=r"unknown setting 'serve.max_inflight'; did you mean"):
        settings.load(project)


def test_an_empty_section_takes_the_defaults_and_a_single_value_is_named(project):
    write_env(project, lambda env: env.update(alerts=None))
    used: list = []
    assert settings.load(project, defaults_used=used)["alerts"]["retries"] == 2
    assert [name for name, _ in used] == ["alerts"]
    write_env(project, lambda env: env.update(serve=8080))
    with pytest.raises(SettingsError, match="setting 'serve' must be a mapping"):
        settings.load(project)


def test_overrides_win_over_the_defaults_and_are_not_reported(project):
    write_env(project, older)
    used: list = []
    loaded = settings.load(project, overrides=["serve.max_in_flight_mb=100", "alerts.retries=5"], defaults_used=used)
    assert loaded["serve"]["max_in_flight_mb"] == 100 and loaded["alerts"]["retries"] == 5
    assert [name for name, _ in used] == ["alerts"]  # its other keys are still nbprod's


def test_the_defaults_are_copies(project):
    write_env(project, older)
    settings.load(project)["alerts"]["webhooks"].append({"url_env": "X"})
    assert settings.load(project)["alerts"]["webhooks"] == []


def test_every_operational_section_has_a_default_and_a_schema():
    reference = settings.reference_settings()
    assert reference == yaml.safe_load((REPO / "env.yaml").read_text())
    assert all(isinstance(reference[name], dict) and isinstance(settings.SCHEMA[name], dict)
               for name in settings.OPERATIONAL)


def test_the_notice_is_one_line_naming_each_default():
    assert settings.defaults_notice([("serve.max_in_flight_mb", 256)]) == (
        "env.yaml has no serve.max_in_flight_mb; using nbprod's default 256 (add it to env.yaml to choose another)")
    alerts = yaml.safe_load((REPO / "env.yaml").read_text())["alerts"]
    notice = settings.defaults_notice([("serve.max_in_flight_mb", 256), ("engine.scheduler", None),
                                       ("alerts", alerts)], "mine.yaml")
    assert notice == ("mine.yaml lacks 3 settings; using nbprod's defaults serve.max_in_flight_mb=256, "
                      "engine.scheduler=null, alerts={webhooks: [], timeout_second... "
                      "(add them to mine.yaml to choose others)")


def test_the_command_line_says_which_defaults_it_used(project, monkeypatch, capsys):
    from nbprod import cli

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # mlflow-ui only names a server's address
    assert cli.main(["mlflow-ui", "--project", str(project)]) == 0
    assert capsys.readouterr().err == ""
    write_env(project, lambda env: env["serve"].pop("max_in_flight_mb"))
    assert cli.main(["mlflow-ui", "--project", str(project)]) == 0
    assert capsys.readouterr().err == ("nbprod: env.yaml has no serve.max_in_flight_mb; using nbprod's default 256 "
                                       "(add it to env.yaml to choose another)\n")
