import pytest
import yaml

from nbprod import settings
from nbprod.project import Project
from nbprod.recommender.settings import IMPLICIT
from nbprod.scaffold import recommender as scaffold


@pytest.fixture
def project(tmp_path):
    """A recommender project written from the template (files only)."""
    scaffold.write_project(tmp_path / "movies")
    return tmp_path / "movies"


def test_the_templates_settings_load_and_every_product_is_in_the_catalog(project):
    loaded = Project.load(project)
    assert loaded.settings["kind"] == "recommender"
    assert loaded.model_name == "movies-model" and loaded.experiment == "movies"
    assert loaded.product("prepare", "history").name == "history.parquet"
    assert loaded.product("promote", "json") == loaded.reports / "promotion.json"


def test_a_recommender_setting_can_be_overridden_and_a_bad_value_names_what_is_allowed(project):
    assert Project.load(project, overrides=["fallback.segment=country"]).settings["fallback"]["segment"] == "country"
    with pytest.raises(settings.SettingsError, match=r"'evaluate.metric' must be one of .*'ndcg'.*got 'auc'"):
        Project.load(project, overrides=["evaluate.metric=auc"])
    with pytest.raises(settings.SettingsError, match="unknown setting 'data.target'; did you mean|unknown setting 'data.target'"):
        Project.load(project, overrides=["data.target=rating"])
    with pytest.raises(settings.SettingsError, match="'registry.budget.max_size_mb' must be greater than 0"):
        Project.load(project, overrides=["registry.budget.max_size_mb=0"])


def test_a_tabular_project_may_say_its_kind_and_an_unknown_kind_is_refused(repo, tmp_path):
    tabular = yaml.safe_load((repo / settings.ENV_FILE).read_text())
    settings.check({**tabular, "kind": "tabular"})
    with pytest.raises(settings.SettingsError, match=r"setting 'kind' must be one of \('tabular', 'recommender'\)"):
        settings.check({**tabular, "kind": "graph"})


def test_the_shared_sections_take_the_reference_defaults_and_only_what_the_template_writes_is_reported(project):
    used: list = []
    loaded = settings.load(project, defaults_used=used)
    reference = settings.reference_settings()
    assert loaded["serve"] == reference["serve"] and loaded["alerts"] == reference["alerts"]
    assert used == []  # serve, alerts and engine are left to nbprod on purpose
    env = yaml.safe_load((project / settings.ENV_FILE).read_text())
    assert not set(env) & set(IMPLICIT) and {"tracking", "registry"} <= set(env)  # IMPLICIT is what it leaves out
    del env["registry"]["budget"]["max_p99_ms"]
    env["serve"] = {"port": 8766}
    (project / settings.ENV_FILE).write_text(yaml.safe_dump(env))
    loaded = settings.load(project, defaults_used=used)
    assert loaded["registry"]["budget"]["max_p99_ms"] == 100 and loaded["serve"]["port"] == 8766
    assert loaded["serve"]["host"] == reference["serve"]["host"]
    assert used == [("registry.budget.max_p99_ms", 100)]
