"""``nbprod build --engine dask`` on a real cluster against the team tracking server.

The cluster is a scheduler and two one-thread workers, separate processes; the team server
(``nbprod team-server``: PostgreSQL, an S3-compatible server and MLflow, on loopback) is started once
for the module. One build on the cluster (the suite's sample settings, without the two reporting
tasks) tracked on that server, during which the worker running ``train`` is killed with SIGKILL, is
compared with the suite's shared local sample build: identical products, one MLflow child run per
task, the champion alias set (a row in PostgreSQL), the artifacts objects in the bucket, no kernel
left. Then ``nbprod score`` and ``nbprod monitor`` on the cluster against their local runs, and the
faults: a bad notebook, a task whose workers keep dying, a scheduler nobody answers at.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pandas as pd
import pytest
import team_stack
from dask_cluster import Cluster, start
from project_copy import REPORTING_TASKS, SAMPLE, copy_project, load_settings

from nbprod.project import Project

pytestmark = pytest.mark.slow

#: The sample build's settings, but a deployment budget no busy machine misses (the gate measures latency here).
BUDGET = ("registry.budget.max_p99_ms=10000", "registry.budget.max_memory_mb=4096")
#: One death of a task's worker is survived, a second fails the build (the default of 3 costs minutes here).
ALLOWED_FAILURES = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
#: Products that name no run and no time: a build on the cluster and one in this process write the same bytes.
SAME_BYTES = ("data/raw.parquet", "data/train.parquet", "data/valid.parquet", "data/test.parquet",
              "data/new.parquet", "data/contract.json", "data/target.json")
TASKS = ("get", "validate", "eda", "prepare", "train", "evaluate", "promote")


@pytest.fixture(scope="module")
def team():
    """The team tracking server (:class:`team_stack.Team`), stopped after the module."""
    with team_stack.team_folder() as folder, team_stack.running(folder) as running:
        yield running


@pytest.fixture
def on_team(team, monkeypatch: pytest.MonkeyPatch):
    """Commands run in this test track on the team server (``MLFLOW_TRACKING_URI``)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", team.url)
    return team


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """The cluster, stopped after the module (SIGTERM, then SIGKILL)."""
    started = start(tmp_path_factory.mktemp("dask-cluster"), workers=2, environ=ALLOWED_FAILURES)
    yield started
    started.stop()


def worker_running(cluster: Cluster, task: str, build: threading.Thread, outcome: dict,
                   timeout: float = 600) -> tuple[str, int]:
    """``(address, pid)`` of the worker once it runs ``task``'s notebook (a kernel of its own is up)."""
    with cluster.client() as client:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not build.is_alive():
                raise AssertionError(f"the build ended before {task!r} ran: {outcome.get('result')!r}")
            executing = lambda dask_worker: [str(task.key) for task in dask_worker.state.executing]  # noqa: E731
            running = [address for address, keys in client.run(executing).items()
                       if any(key.endswith(f"-{task}") for key in keys)]
            if running:
                pid = client.run(os.getpid, workers=running)[running[0]]
                if kernel_children(cluster, pid):
                    return running[0], pid
            time.sleep(1.0)
    raise TimeoutError(f"no worker ran {task!r} within {timeout} s")


def kernel_children(cluster: Cluster, pid: int) -> list:
    """The cluster's kernels whose parent is ``pid``."""
    return [kernel for kernel in cluster.kernels() if kernel.ppid() == pid]


@pytest.fixture(scope="module")
def dask_build(cluster: Cluster, team: team_stack.Team, tmp_path_factory: pytest.TempPathFactory):
    """The sample build on the cluster, tracked on the team server, its ``train`` worker killed with SIGKILL
    while the notebook runs: (project, settings, result, killed: {address, pid, kernels})."""
    from nbprod.pipeline.build import build

    project = copy_project(tmp_path_factory.mktemp("dask-build") / "project", drop_tasks=REPORTING_TASKS)
    settings = load_settings(project, [*SAMPLE, *BUDGET, "engine.kind=dask", f"engine.scheduler={cluster.address}",
                                       f"tracking.uri={team.url}"])
    outcome: dict = {}
    heard = Heard()
    thread = threading.Thread(target=lambda: outcome.update(result=capture(build, settings, project, False, heard)))
    thread.start()
    try:
        address, pid = worker_running(cluster, "train", thread, outcome)
        time.sleep(1.0)  # into the notebook
        kernels = [kernel.pid for kernel in kernel_children(cluster, pid)]
        os.kill(pid, signal.SIGKILL)
    finally:  # the build exports its store to this process's environment until it ends
        thread.join(900)
    assert not thread.is_alive(), "the build did not end"
    return project, settings, outcome["result"], {"address": address, "pid": pid, "kernels": kernels,
                                                  "heard": heard.lines}


class Heard:
    """The build's progress: ``(time, "started", task)`` and ``(time, "finished", task, status)``."""

    def __init__(self) -> None:
        self.lines: list[tuple] = []

    def started(self, name: str) -> None:
        self.lines.append((time.monotonic(), "started", name))

    def finished(self, name: str, status: str, seconds: float) -> None:
        self.lines.append((time.monotonic(), "finished", name, status))


def capture(function, *args):
    """``function(*args)``, or the exception it raised."""
    try:
        return function(*args)
    except Exception as error:  # noqa: BLE001 - the test reports it
        return error


def test_build_completes_on_the_cluster_after_a_worker_was_killed_during_train(dask_build):
    _, _, result, killed = dask_build
    assert not isinstance(result, Exception), result
    assert result.ok and set(result.executed) == set(TASKS)
    assert killed["kernels"], "the killed worker was running the train notebook"
    train = [line[1:] for line in killed["heard"] if line[2] == "train"]
    assert train == [("started", "train"), ("started", "train"), ("finished", "train", "Executed")]


def test_products_are_the_bytes_of_a_local_build(dask_build, sample_build):
    project, settings, _, _ = dask_build
    local, local_settings, local_result = sample_build
    assert local_result.ok
    assert {**local_settings, "engine": None, "registry": None, "tracking": None} == \
        {**settings, "engine": None, "registry": None, "tracking": None}
    from nbprod.pipeline.dask_engine import file_digest

    for name in SAME_BYTES:
        ours, theirs = project / settings["products"] / name, local / local_settings["products"] / name
        assert file_digest(ours) == file_digest(theirs), name
    ours = json.loads((project / settings["products"] / "evaluation.json").read_text())
    theirs = json.loads((local / local_settings["products"] / "evaluation.json").read_text())
    for key in ("best", "baseline", "importance"):
        assert ours[key] == theirs[key], key
    assert {name: c["metrics"] for name, c in ours["candidates"].items()} == \
        {name: c["metrics"] for name, c in theirs["candidates"].items()}
    scores = [pd.read_parquet(folder / "holdout_scores.parquet").to_numpy()  # its columns are the candidates' run ids
              for folder in (project / settings["products"], local / local_settings["products"])]
    assert (scores[0] == scores[1]).all()


def test_candidates_are_fitted_on_the_other_workers_as_they_would_be_here(cluster):
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from nbprod.pipeline import dask_engine

    X = pd.DataFrame({"a": np.arange(200.0) % 17, "b": np.arange(200.0) % 5})
    y = pd.Series((np.arange(200) % 3 == 0).astype(int))
    with cluster.client() as client:
        workers = sorted(client.scheduler_info()["workers"])
        fitted = dask_engine.fit_on_cluster(cluster.address, workers[0], [LogisticRegression(C=c) for c in (0.1, 1.0)],
                                            X, y)
        prefixes = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    local = [LogisticRegression(C=c).fit(X, y) for c in (0.1, 1.0)]
    assert fitted is not None and [model.coef_.tolist() for model in fitted] == [model.coef_.tolist() for model in local]
    assert any(prefix.startswith("nbprod-fit") for prefix in prefixes), prefixes


def test_one_child_run_per_task_and_the_notebooks_logged_on_the_team_server(dask_build, team):
    from mlflow.entities import ViewType

    from nbprod import tracking
    from nbprod.tracking import tags as names

    project, settings, result, _ = dask_build
    assert tracking.tracking_uri(settings, project, environ={}) == team.url
    client = tracking.client_for(team.url)
    experiment = client.get_experiment_by_name(settings["tracking"]["experiment"]).experiment_id
    runs = client.search_runs([experiment], names.equals(names.PARENT, result.parent_run_id))
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == result.parent_run_id]
    assert sorted(run.data.tags[names.TASK] for run in children) == sorted(TASKS)
    assert all(run.info.status == "FINISHED" for run in runs)
    by_task = {run.data.tags[names.TASK]: run for run in children}
    for task in ("eda", "prepare", "train", "evaluate"):
        logged = {item.path for item in client.list_artifacts(by_task[task].info.run_id, "notebook")}
        assert logged == {f"notebook/{task}.ipynb", f"notebook/{task}.html"}, task
    deleted = client.search_runs([experiment], names.equals(names.PARENT, result.parent_run_id),
                                 run_view_type=ViewType.DELETED_ONLY)
    assert len(deleted) <= 3  # the killed attempt's train run and its candidates', if it had got that far


def test_independent_tasks_ran_at_the_same_time_and_the_others_in_order(dask_build):
    _, _, _, killed = dask_build
    when = {(line[1], line[2]): line[0] for line in killed["heard"]}  # the last start of each task
    assert when["started", "eda"] < when["finished", "prepare"] and when["started", "prepare"] < when["finished", "eda"]
    for before, after in (("get", "validate"), ("validate", "prepare"), ("prepare", "train"), ("train", "evaluate"),
                          ("evaluate", "promote")):
        assert when["finished", before] <= when["started", after], (before, after)


def test_the_champion_alias_is_set_in_postgres(dask_build, team):
    from nbprod import tracking

    project, settings, _, _ = dask_build
    client = tracking.client_for(team.url)
    evidence = json.loads((project / settings["reports"] / "promotion.json").read_text())
    assert evidence["decision"] == "promoted", evidence
    name, alias = settings["registry"]["model_name"], settings["registry"]["alias"]
    version = client.get_model_version_by_alias(name, alias)
    assert int(evidence["candidate"]["version"]) == int(version.version)
    assert (name, alias, int(version.version)) in team_stack.alias_rows(team.data)


def test_the_artifacts_are_objects_in_the_bucket_and_none_in_the_project(dask_build, team):
    project, _, _, _ = dask_build
    names = [path.name for path in team_stack.bucket_files(team.data)]
    assert {"MLmodel", "train.ipynb", "train.html", "evaluate.ipynb"} <= set(names), sorted(set(names))
    assert names.count("train.ipynb") == 1  # the killed attempt's run and its artifacts were deleted
    assert not (project / "mlartifacts").exists() and not (project / "mlflow.db").exists()


def test_an_executed_notebook_is_complete(dask_build):
    project, settings, _, _ = dask_build
    notebook = json.loads((project / settings["reports"] / "train.ipynb").read_text())
    cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert [cell["execution_count"] for cell in cells] == list(range(1, len(cells) + 1))
    assert pd.read_parquet(project / settings["products"] / "holdout_scores.parquet").shape[0] > 0


def test_no_kernel_is_left_on_the_workers(dask_build, cluster):
    _, _, _, killed = dask_build
    deadline = time.monotonic() + 20
    while cluster.kernels() and time.monotonic() < deadline:  # a killed worker's kernel sees its parent gone
        time.sleep(0.5)
    assert cluster.kernels() == []
    assert killed["kernels"]


def test_a_folder_of_parquet_files_is_scored_file_by_file_on_the_workers_as_locally(dask_build, cluster, on_team,
                                                                                  tmp_path, capsys):
    from nbprod import cli

    project, settings, _, _ = dask_build
    rows = pd.read_parquet(project / settings["products"] / "data" / "new.parquet")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    parts = 3
    for index in range(parts):
        rows.iloc[index::parts].to_parquet(inputs / f"part-{index}.parquet")
    common = ["--project", str(project)]
    assert cli.main(["score", str(inputs), str(tmp_path / "dask"), *common, "--scheduler", cluster.address]) == 0
    assert f"{parts} files: scored " in capsys.readouterr().out
    assert cli.main(["score", str(inputs), str(tmp_path / "local"), *common]) == 0
    names = sorted(path.name for path in (tmp_path / "dask").iterdir())
    assert names == sorted([f"part-{index}.parquet" for index in range(parts)]
                           + [f"part-{index}.rejects.parquet" for index in range(parts)])
    for name in names:
        ours, theirs = (pd.read_parquet(tmp_path / engine / name) for engine in ("dask", "local"))
        pd.testing.assert_frame_equal(ours, theirs)
    scored = pd.concat(pd.read_parquet(tmp_path / "dask" / f"part-{index}.parquet") for index in range(parts))
    assert len(scored) > 0 and scored["probability"].between(0, 1).all()


def drifting_rows(project, settings) -> pd.DataFrame:
    """The build's later rows (its ``new`` split), six columns changed in their later half: windows of both kinds."""
    rows = pd.read_parquet(project / settings["products"] / "data" / "new.parquet")
    times = rows[settings["data"]["time_column"]]
    later = times >= times.quantile(0.5)
    for column in ("distance", "sched_dep_time", "sched_arr_time"):
        rows.loc[later, column] = rows.loc[later, column] * 3
    for column in ("carrier", "origin", "dest"):
        rows.loc[later, column] = "ZZ"
    return rows


def test_monitor_on_the_cluster_gives_the_windows_and_decisions_of_a_local_pass(dask_build, cluster, on_team,
                                                                                 tmp_path, capsys):
    from nbprod import cli

    project, settings, _, _ = dask_build
    rows = drifting_rows(project, settings)
    rows.to_parquet(tmp_path / "rows.parquet")
    parts = tmp_path / "parts"
    parts.mkdir()
    for index in range(3):  # every window has rows in every file
        rows.iloc[index::3].to_parquet(parts / f"part-{index}.parquet")
    common = ["--project", str(project), "--no-retrain", "--no-snapshot", "--set", "monitor.min_rows=20",
              "--set", "monitor.drift_share=0.45"]
    histories = {}
    for engine, data, extra in (("local", tmp_path / "rows.parquet", []),
                                ("dask", parts, ["--engine", "dask", "--scheduler", cluster.address])):
        reports = f"reports/monitoring-{engine}"
        assert cli.main(["monitor", "--data", str(data), *common, "--set", f"monitor.reports={reports}", *extra]) == 0
        histories[engine] = json.loads((project / reports / "drift_history.json").read_text())
    out = capsys.readouterr().out
    local, dask = histories["local"], histories["dask"]
    assert [(w["start"], w["end"], w["rows"]) for w in dask["windows"]] == \
        [(w["start"], w["end"], w["rows"]) for w in local["windows"]]
    decisions = {engine: [(w["drift"]["drifted"], [(c["column"], c["drifted"], c["statistic"], c.get("p_value"))
                                                   for c in w["drift"]["columns"]])
                          for w in history["windows"]] for engine, history in histories.items()}
    assert decisions["dask"] == decisions["local"]
    assert {w["drift"]["drifted"] for w in local["windows"]} == {True, False}
    assert [w["performance"] for w in dask["windows"]] == [w["performance"] for w in local["windows"]]
    assert [(e["kind"], e["reason"]) for e in dask["events"]] == [(e["kind"], e["reason"]) for e in local["events"]]
    assert out.count("Decision: retrain due (record only: monitor.retrain is false)") == 2
    with cluster.client() as client:
        prefixes = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    assert {"nbprod-monitor-read", "nbprod-monitor-check"} <= {prefix.rsplit("-", 2)[0] for prefix in prefixes}


def test_monitor_on_the_cluster_refuses_windows_in_file_order(dask_build, cluster, on_team, tmp_path, capsys):
    from nbprod import cli

    project, settings, _, _ = dask_build
    rows = drifting_rows(project, settings).drop(columns=[settings["data"]["time_column"]])
    rows.to_parquet(tmp_path / "rows.parquet")
    code = cli.main(["monitor", "--data", str(tmp_path / "rows.parquet"), "--project", str(project), "--no-retrain",
                     "--no-snapshot", "--scheduler", cluster.address])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("nbprod monitor: the dask engine places rows in windows by time")


def test_a_bad_notebook_stops_the_build_naming_the_task(dask_build, on_team, capsys):
    from nbprod import cli

    project, settings, _, _ = dask_build
    notebook = project / "notebooks" / "eda.ipynb"
    content = json.loads(notebook.read_text())
    content["cells"].insert(2, {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                                "id": "bad", "source": ["raise ValueError('a bad notebook')"]})
    notebook.write_text(json.dumps(content))
    overrides = [*settings_overrides(), "--set", f"engine.scheduler={settings['engine']['scheduler']}"]
    code = cli.main(["build", "--project", str(project), "--engine", "dask", *overrides])
    err = capsys.readouterr().err
    assert code == 1
    assert "nbprod build: eda failed: ValueError: a bad notebook" in err
    assert "  eda        Errored" in err and "  prepare    Skipped" in err


def settings_overrides() -> list[str]:
    """``--set`` options giving the dask build's settings (but the engine's)."""
    from project_copy import QUICK

    return [word for override in [*QUICK, *SAMPLE, *BUDGET] for word in ("--set", override)]


def test_a_task_whose_workers_keep_dying_fails_naming_it_and_what_depends_on_it_is_aborted(cluster):
    from nbprod.pipeline import dask_engine

    with cluster.client() as client:
        def submit(name):  # "die" ends its worker's process, each time it runs
            return client.submit(os._exit, 1, key=f"build-{name}", pure=False)

        results = dask_engine.run_in_order(client, ["die", "after"], {"die": [], "after": ["die"]}, submit, None)
    assert results["die"]["status"] == "Errored" and results["after"]["status"] == "Aborted"
    assert results["die"]["details"].startswith("KilledWorker: the workers running task 'die' died each time it ran"
                                                " (distributed.scheduler.allowed-failures)")


def test_an_unreachable_scheduler_is_a_clear_error_and_nothing_is_written(tmp_path, capsys):
    from dask_cluster import free_port

    from nbprod import cli

    project = copy_project(tmp_path / "project", git=False)
    before = sorted(path.relative_to(project) for path in project.rglob("*"))
    started = time.monotonic()
    code = cli.main(["build", "--project", str(project), "--scheduler", f"tcp://127.0.0.1:{free_port()}"])
    seconds = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 2 and seconds < 15
    assert err.startswith("nbprod build: cannot reach the Dask scheduler at tcp://127.0.0.1:")
    assert "'engine.scheduler'" in err and "Traceback" not in err
    lock = Project.load(project).build_lock.relative_to(project)  # the build's own guard, taken first
    after = {path.relative_to(project) for path in project.rglob("*")} - {lock, lock.parent}
    assert sorted(after | ({lock.parent} & set(before))) == before
