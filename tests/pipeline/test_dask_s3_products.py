"""``engine.products_url``: a build on a Dask cluster whose workers exchange products through an S3 bucket.

An S3-compatible server (rclone, as ``nbprod team-server`` runs it) on loopback, a cluster of a scheduler
and two one-thread workers holding the bucket's credentials in their environment, and one sample build
of the whole pipeline with its products in the bucket. Each worker builds its task in a folder
of its own, fetching its upstream tasks' files from the bucket and putting its own there; the build's
process fetches each task's files into the project. Compared with the suite's shared local sample build:
the same bytes. Then a bucket that does not exist: the build fails naming the task and the bucket.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from dask_cluster import free_port, start
from project_copy import SAMPLE, copy_project, load_settings

from nbprod.pipeline.dask_engine import file_digest

pytestmark = pytest.mark.slow

#: The bucket (a folder of the server's) and the prefix the build writes under.
BUCKET, PREFIX = "products", "team-a/flights"
#: A deployment budget no busy machine misses (the gate measures latency here).
BUDGET = ("registry.budget.max_p99_ms=10000", "registry.budget.max_memory_mb=4096")
#: Products that name no run and no time: built on the workers, fetched here, they are a local build's bytes.
SAME_BYTES = ("data/raw.parquet", "data/train.parquet", "data/valid.parquet", "data/test.parquet",
              "data/new.parquet", "data/contract.json", "data/target.json")
TASKS = ("get", "validate", "eda", "prepare", "train", "evaluate", "promote", "monitor", "dashboards")


@pytest.fixture(scope="module")
def bucket(tmp_path_factory: pytest.TempPathFactory):
    """``(folder of the bucket, the AWS environment of its clients)``; the server stopped after the module."""
    from nbprod.teamserver.stack import rclone_program

    root = tmp_path_factory.mktemp("s3")
    (root / BUCKET).mkdir()
    port, key, secret = free_port(), "nbprodtestkey", "nbprod-test-secret"
    log = (root.parent / f"{root.name}-rclone.log").open("w")
    server = subprocess.Popen([rclone_program(), "serve", "s3", str(root), "--addr", f"127.0.0.1:{port}"],
                              env={**os.environ, "RCLONE_AUTH_KEY": f'"{key},{secret}"', "RCLONE_CONFIG": os.devnull},
                              stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint, timeout=2)
            break
        except urllib.error.HTTPError:
            break  # it answers (403 without credentials)
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, "rclone serve s3 did not start"
            time.sleep(0.2)
    environ = {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_ENDPOINT_URL": endpoint,
               "AWS_DEFAULT_REGION": "us-east-1"}
    yield root / BUCKET, environ
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)
    log.close()


@pytest.fixture(scope="module")
def cluster(bucket, tmp_path_factory: pytest.TempPathFactory):
    """Two one-thread workers with the bucket's credentials, none of them with the project's products folder."""
    started = start(tmp_path_factory.mktemp("dask-s3-cluster"), workers=2, environ=bucket[1])
    yield started
    started.stop()


def build_on(cluster, bucket, project: Path, url: str, more: tuple[str, ...] | list[str] = ()):
    """``(settings, result or the exception raised)`` of the sample build (with ``more`` settings) on ``cluster``
    with products at ``url``."""
    from nbprod.pipeline.build import build

    settings = load_settings(project, [*SAMPLE, *BUDGET, "engine.kind=dask", f"engine.scheduler={cluster.address}",
                                       f"engine.products_url={url}", *more])
    patch = pytest.MonkeyPatch()
    for name, value in bucket[1].items():  # the build's process is a client of the bucket too
        patch.setenv(name, value)
    try:
        return settings, build(settings, project)
    except Exception as error:  # noqa: BLE001 - the tests report it
        return settings, error
    finally:
        patch.undo()


@pytest.fixture(scope="module")
def s3_build(cluster, bucket, tmp_path_factory: pytest.TempPathFactory):
    """The sample build with its products in the bucket: (project, settings, result)."""
    project = copy_project(tmp_path_factory.mktemp("dask-s3-build") / "project")
    settings, result = build_on(cluster, bucket, project, f"s3://{BUCKET}/{PREFIX}")
    return project, settings, result


def test_the_build_completes_with_every_task_run_on_the_workers(s3_build):
    _, _, result = s3_build
    assert not isinstance(result, Exception), getattr(result, "details", result)
    assert result.ok and sorted(result.executed) == sorted(TASKS)


def test_after_the_build_the_project_is_up_to_date_as_after_a_local_one(s3_build):
    """Every task, dashboards too, whose params name the products and reports folders: a worker's metadata
    names its own, the build records the task built with the project's."""
    from nbprod.pipeline import dag as dag_module

    project, settings, _ = s3_build
    assert dag_module.outdated_tasks(dag_module.load_dag(project, settings)) == []


def test_the_fetched_products_are_the_bytes_of_a_local_build(s3_build, sample_build):
    project, settings, _ = s3_build
    local, local_settings, _ = sample_build
    for name in SAME_BYTES:
        ours, theirs = project / settings["products"] / name, local / local_settings["products"] / name
        assert file_digest(ours) == file_digest(theirs), name
    ours = json.loads((project / settings["products"] / "evaluation.json").read_text())
    theirs = json.loads((local / local_settings["products"] / "evaluation.json").read_text())
    assert ours["best"] == theirs["best"] and ours["baseline"] == theirs["baseline"]


def test_each_product_and_its_metadata_is_an_object_in_the_bucket(s3_build, bucket):
    project, settings, _ = s3_build
    for name in SAME_BYTES:
        stored = bucket[0] / PREFIX / "products" / name
        assert file_digest(stored) == file_digest(project / settings["products"] / name), name
        assert (stored.parent / f".{stored.name}.metadata").is_file(), name
    assert (bucket[0] / PREFIX / "reports" / "train.ipynb").is_file()
    index = json.loads((project / settings["products"] / "models" / "candidates.json").read_text())
    for candidate in index.values():  # the folder product travels whole: each pickled candidate beside the index
        stored = bucket[0] / PREFIX / "products" / "models" / candidate["path"]
        assert file_digest(stored) == file_digest(project / settings["products"] / "models" / candidate["path"])


def test_workers_built_in_folders_of_their_own_and_removed_them(s3_build, cluster):
    project, settings, _ = s3_build
    notebook = json.loads((project / settings["reports"] / "train.ipynb").read_text())
    injected = "".join("".join(cell["source"]) for cell in notebook["cells"]
                       if "injected-parameters" in cell.get("metadata", {}).get("tags", []))
    assert "nbprod-task-" in injected and str(project / settings["products"]) not in injected
    with cluster.client() as client:
        left = client.run(lambda dask_worker: [str(path) for path in
                                               Path(dask_worker.local_directory).glob("nbprod-task-*")])
    assert left and all(found == [] for found in left.values())


def test_a_bucket_that_does_not_exist_fails_the_build_naming_the_task_and_the_bucket(cluster, bucket, tmp_path):
    from nbprod.pipeline.dag import BuildFailed

    project = copy_project(tmp_path / "project", drop_tasks=("monitor", "dashboards"))
    _, result = build_on(cluster, bucket, project, "s3://no-such-bucket/flights")
    assert isinstance(result, BuildFailed), result
    assert result.statuses["get"] == "Errored" and result.statuses["validate"] == "Aborted"
    assert "task 'get'" in result.details and "s3://no-such-bucket/flights/products/data/raw.parquet" in result.details


#: A sampled recommender build (``nbprod new --template recommender``), as tests/scaffold/test_new_recommender.py's.
RECOMMENDER_SAMPLE = ("sample_frac=0.2", "train.candidates=[{name: popularity, kind: popularity}, {name: item_knn,"
                      " kind: item_knn, params: {neighbours: [20]}}]", "registry.margin=-0.001", *BUDGET)


def test_a_recommender_project_builds_with_its_products_in_the_bucket(cluster, bucket, tmp_path, monkeypatch):
    """Its ``evaluation.json`` names the holdout beside itself: ``promote``, on a worker's own folder, reads the
    history and test interactions that another worker's ``prepare`` made."""
    from nbprod import cli, settings
    from nbprod.pipeline import dag as dag_module
    from nbprod.pipeline.build import build

    folder = tmp_path / "movies"
    assert cli.main(["new", str(folder), "--template", "recommender"]) == 0
    loaded = settings.load(folder, overrides=[*RECOMMENDER_SAMPLE, "engine.kind=dask",
                                              f"engine.scheduler={cluster.address}",
                                              f"engine.products_url=s3://{BUCKET}/movies"])
    for name, value in bucket[1].items():
        monkeypatch.setenv(name, value)
    result = build(loaded, folder)
    assert result.ok and {"prepare", "evaluate", "promote"} <= set(result.executed), result.statuses
    evaluation = json.loads((folder / loaded["products"] / "evaluation.json").read_text())
    assert evaluation["holdout"] == {"history": "data/history.parquet", "test": "data/test.parquet"}
    promotion = json.loads((folder / loaded["reports"] / "promotion.json").read_text())  # the holdout was scored
    assert promotion["decision"] in ("promoted", "rejected") and promotion["reasons"]
    assert (bucket[0] / "movies" / "reports" / "promotion.json").is_file()
    assert dag_module.outdated_tasks(dag_module.load_dag(folder, loaded)) == []


def test_a_rebuild_under_a_new_prefix_puts_the_files_it_keeps_there_first(s3_build, cluster, bucket):
    """Run last: it rebuilds the module's project. Evaluate and what follows it run again; the workers find
    the files of the tasks the build keeps under the new prefix because the build put them there."""
    project, _, first = s3_build
    assert not isinstance(first, Exception)
    settings, result = build_on(cluster, bucket, project, f"s3://{BUCKET}/team-b", ["evaluate.permutation_repeats=2"])
    assert not isinstance(result, Exception), getattr(result, "details", result)
    assert {"evaluate", "promote"} <= set(result.executed) and not {"get", "prepare", "train"} & set(result.executed)
    seeded = bucket[0] / "team-b" / "products"
    for name in ("data/raw.parquet", "data/train.parquet", "data/test.parquet", "models/candidates.json"):
        assert file_digest(seeded / name) == file_digest(project / settings["products"] / name), name
    assert (bucket[0] / "team-b" / "reports" / "evaluate.ipynb").is_file()
