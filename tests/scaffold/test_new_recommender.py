"""``nbprod new --template recommender``: the files it writes, its options, ONE sampled build, and a real
retraining build that the monitor starts on it."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from nbprod import cli

#: The sampled build (written into its env.yaml): a fifth of MovieLens' users, a one-point grid per family.
#: On so few users the best candidate only ties with the popularity baseline (the cold-start users, served by
#: the fallback, dominate the holdout): a margin just under 0 lets the first build promote a champion.
SAMPLE = ["sample_frac=0.2",
          "train.candidates=[{name: popularity, kind: popularity}, {name: item_knn, kind: item_knn, "
          "params: {neighbours: [20]}}, {name: als, kind: als, params: {factors: [16], iterations: [8]}}]",
          "registry.margin=-0.001"]


def test_new_writes_the_recommender_template_with_the_projects_names(tmp_path, capsys):
    folder = tmp_path / "Movie Picks"
    assert cli.main(["new", str(folder), "--template", "recommender"]) == 0
    assert "a recommender project" in capsys.readouterr().out
    for name in ("pipeline.yaml", "env.yaml", "README.md", ".gitignore", "notebooks/train.ipynb"):
        assert (folder / name).is_file(), name
    env = yaml.safe_load((folder / "env.yaml").read_text())
    assert env["kind"] == "recommender" and env["data"]["source"] == "movielens"
    assert env["registry"]["model_name"] == "movie-picks-model" and env["tracking"]["experiment"] == "movie-picks"


def test_the_recommender_project_gets_the_tabular_projects_kit_with_its_names(tmp_path):
    from nbprod.scaffold import validate

    folder = tmp_path / "Movie Picks"
    assert cli.main(["new", str(folder), "--template", "recommender"]) == 0
    for name in ("Makefile", "pytest.ini", "tests/conftest.py", "tests/test_project.py", "tests/test_deploy.py",
                 "notebooks/dashboards/model_report.ipynb", "Dockerfile", ".dockerignore", "requirements.lock", "binder/postBuild",
                 ".github/workflows/ci.yml", "deploy", "scripts/install-promtool.sh", "wheels/README.md"):
        assert (folder / name).exists(), name
    makefile = (folder / "Makefile").read_text()
    assert "NBPROD ?= nbprod[recommender]" in makefile and "docker build -t movie-picks:latest" in makefile
    assert "nbprod[recommender]" in (folder / "binder" / "postBuild").read_text()
    assert "@@" not in makefile and validate.build_context_problems(folder) == []
    assert validate.hadolint(folder / "Dockerfile") == []


def test_new_on_a_table_of_ones_own_names_its_columns(tmp_path):
    table = tmp_path / "clicks.csv"
    pd.DataFrame({"visitor": ["a", "b"], "product": ["x", "y"], "at": ["2024-01-01", "2024-01-02"]}).to_csv(table)
    folder = tmp_path / "shop"
    assert cli.main(["new", str(folder), "--template", "recommender", "--data", str(table), "--user", "visitor",
                     "--item", "product", "--time", "at"]) == 0
    data = yaml.safe_load((folder / "env.yaml").read_text())["data"]
    assert (data["source"], data["user"], data["item"], data["time"], data["weight"]) == \
        ("data/clicks.csv", "visitor", "product", "at", None)
    assert data["item_attributes"] == [] and (folder / "data" / "clicks.csv").is_file()


@pytest.mark.parametrize(("arguments", "message"), [
    (["--template", "recommender", "--data", "clicks.csv", "--user", "u"], "needs --item, --time"),
    ([], "a tabular project needs --data FILE and --target COLUMN"),
])
def test_missing_options_are_one_line_errors(tmp_path, capsys, arguments, message):
    assert cli.main(["new", str(tmp_path / "p"), *arguments]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1 and not (tmp_path / "p").exists()


@pytest.fixture(scope="module")
def sampled_build(tmp_path_factory, repo):
    """ONE sampled build of a project written by ``nbprod new --template recommender`` (its env.yaml holds
    :data:`SAMPLE`, so that a retraining build samples alike); the tests below run in file order on it."""
    folder = tmp_path_factory.mktemp("recommender-build") / "movies"
    assert cli.main(["new", str(folder), "--template", "recommender"]) == 0
    settings = yaml.safe_load((folder / "env.yaml").read_text())
    for setting in SAMPLE:
        key, value = setting.split("=", 1)
        *parents, last = key.split(".")
        functools.reduce(dict.__getitem__, parents, settings)[last] = yaml.safe_load(value)
    (folder / "env.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    env["PYTHONPATH"] = str(repo / "src")
    done = subprocess.run([sys.executable, "-m", "nbprod.cli", "build"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return folder


@pytest.mark.slow
def test_a_sampled_movielens_build_evaluates_known_and_cold_start_users_and_gates_on_ndcg(sampled_build):
    folder = sampled_build

    evaluation = json.loads((folder / "build" / "evaluation.json").read_text())
    assert set(evaluation["candidates"]) == {"popularity", "item_knn[neighbours=20]",
                                             "als[factors=16-iterations=8]"}
    for result in evaluation["candidates"].values():
        groups = result["metrics"]["groups"]
        assert groups["known"]["users"] > 0 and groups["cold"]["users"] > 0
        assert set(groups["cold"]["paths"]) == {"fallback:global"}  # MovieLens has no user attributes
    assert set(evaluation["candidates"]["als[factors=16-iterations=8]"]["metrics"]["groups"]["known"]["paths"]) == \
        {"collaborative"}
    promotion = json.loads((folder / "reports" / "promotion.json").read_text())
    assert promotion["metric"]["name"] == "all ndcg@10"
    assert [reason["check"] for reason in promotion["reasons"]] == ["metric", "size", "memory", "latency"]
    assert promotion["budget"]["p99_ms"]["measured"] is not None
    assert (promotion["champion_after"] is not None) == (promotion["decision"] == "promoted")
    for name in ("eda", "prepare", "train", "evaluate"):
        assert (folder / "reports" / f"{name}.ipynb").is_file()

    # the service loads the registered version as a recommender (POST /recommend)
    from nbprod.serving import model_source, recommend

    version = promotion["candidate"]["version"]
    loaded = model_source.load_version(f"sqlite:///{folder / 'mlflow.db'}", "movies-model", version)
    assert isinstance(loaded, recommend.LoadedRecommender) and loaded.version == version
    assert loaded.recommend(recommend.RecommendRequest("someone new", k=5)).path == "fallback:global"


def serve_requests(folder, users) -> list[dict]:
    """``POST /recommend`` for each of ``users``, answered in process by the service with the champion loaded
    from the project's registry, logged in the project's prediction log (as ``nbprod serve`` logs them)."""
    import asyncio

    from nbprod.project import Project
    from nbprod.registry.client import Registry
    from nbprod.serving import model_source
    from nbprod.serving.app import PredictionService, ServeConfig
    from nbprod.serving.metrics import Metrics
    from nbprod.serving.prediction_log import PredictionLogWriter

    project = Project.load(folder)
    version = Registry(project.model_name, project.tracking_uri()).alias_version(project.alias)
    app = PredictionService(ServeConfig.from_project(project))
    app.model = model_source.load_version(project.tracking_uri(), project.model_name, version)
    app.metrics = Metrics(project.model_name)
    app.log = PredictionLogWriter(project.prediction_log)
    answers: list[dict] = []

    async def ask(user: str) -> None:
        sent: list[dict] = []

        async def receive():
            return {"type": "http.request", "body": json.dumps({"user": user, "k": 5}).encode(), "more_body": False}

        async def send(message):
            sent.append(message)

        await app({"type": "http", "method": "POST", "path": "/recommend",
                   "headers": [(b"content-type", b"application/json"),
                               (b"host", f"127.0.0.1:{app.config.port}".encode())]}, receive, send)
        assert sent[0]["status"] == 200, sent[1]["body"]
        answers.append(json.loads(sent[1]["body"]))

    for user in users:
        asyncio.run(ask(user))
    app.log.close()
    return answers


@pytest.mark.slow
def test_new_interactions_drive_the_monitor_to_a_real_retraining_build_through_the_gate(sampled_build, repo,
                                                                                        monkeypatch, capsys):
    """Served answers, then later interactions with items the champion never saw: ``nbprod monitor --labels``
    finds the window drifted, the k-of-n rule (1 of 1) fires, a real build runs on the interactions and the
    labels together, and its gate either moves the alias to the new version or keeps the champion, with
    its reason, in the history, the evidence and the registry alike."""
    from nbprod.project import Project
    from nbprod.registry.client import Registry
    from nbprod.tracking import client_for, tags

    folder = sampled_build
    for name in [name for name in os.environ if name.startswith("MLFLOW_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PYTHONPATH", str(repo / "src"))  # the retraining build's own process
    monkeypatch.chdir(folder)
    project = Project.load(folder)
    registry = Registry(project.model_name, project.tracking_uri())
    champion = registry.alias_version(project.alias)
    assert champion is not None
    history = pd.read_parquet(folder / "build" / "data" / "history.parquet")
    users = [str(user) for user in pd.unique(history["user"])[:12]]
    answers = serve_requests(folder, [*users, "someone new"])
    assert len(answers) == len(users) + 1 and all(len(answer["items"]) == 5 for answer in answers)
    assert answers[-1]["path"] == "fallback:global"
    asked = pd.Timestamp.now(tz="UTC").tz_localize(None)
    labels = pd.DataFrame({"userId": users * 2, "movieId": [f"new-{n % 3}" for n in range(2 * len(users))],
                           "rating": 5.0,
                           "timestamp": [int((asked + pd.Timedelta(minutes=10 + n) - pd.Timestamp("1970-01-01"))
                                             .total_seconds()) for n in range(2 * len(users))]})
    labels.to_csv(folder / "later.csv", index=False)

    code = cli.main(["monitor", "--labels", "later.csv", "--no-snapshot", "--set", "monitor.min_rows=5",
                     "--set", "monitor.trigger_k=1", "--set", "monitor.trigger_n=1"])
    out = capsys.readouterr().out
    assert "retraining started: nbprod build" in out, out
    data = json.loads(project.drift_history.read_text())
    window = data["windows"][-1]
    assert window["recommender"]["new_item_share"] == 1.0 and window["drift"]["drifted"] is True
    retrained, decided = data["events"][-2:]
    assert retrained["kind"] == "retrain" and retrained["run_id"]  # the retraining build's MLflow parent run
    assert decided["kind"] in ("promoted", "rejected") and "gate: " in decided["reason"]  # the gate's own reason
    [reports] = [path for path in (folder / "reports" / "monitoring").glob("retrain-*") if path.is_dir()]
    promotion = json.loads((reports / "promotion.json").read_text())
    assert promotion["decision"] == decided["kind"] and promotion["previous_champion"] == champion
    assert [reason["check"] for reason in promotion["reasons"]] == ["metric", "size", "memory", "latency"]
    candidate = promotion["candidate"]["version"]
    assert candidate != champion and decided["model_version"] in (candidate, None)
    client = client_for(project.tracking_uri())
    assert client.get_model_version(project.model_name, candidate).tags[tags.GATE_DECISION] == decided["kind"]
    monitor_run = client.search_runs([client.get_experiment_by_name(project.experiment).experiment_id],
                                     tags.equals(tags.TASK, "monitor"), order_by=["attributes.start_time DESC"])[0]
    assert monitor_run.data.tags[tags.MONITOR_RETRAIN_RUN] == retrained["run_id"]
    assert monitor_run.data.tags[tags.MONITOR_GATE] == decided["kind"]
    now = registry.alias_version(project.alias)
    assert promotion["champion_after"] == now
    if decided["kind"] == "promoted":
        assert code == 0 and now == candidate
        built = json.loads(project.champion_build.read_text())
        assert built["version"] == now and "retrain" in built["products"]
    else:  # the gate kept the champion and says which check the new model failed
        assert now == champion and any(not reason["passed"] for reason in promotion["reasons"])
