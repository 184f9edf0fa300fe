"""What a generated project's tests (``nbprod/scaffold/files/tests``) ask of nbprod, for every project kind.

One set of tests serves the tabular and the recommender project: the project's kind and its quick
build's ``sample_frac`` are filled in when it is written (``@@KIND@@``, ``@@SAMPLE_FRAC@@``); what
differs by kind is answered here (:data:`QUICK`, :func:`gate_checks`, :func:`sample_decisions`,
:func:`settings_problems`, :func:`dashboard_snapshots`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

#: A quick build's grid, by project kind (after ``sample_frac``): the pipeline itself is unchanged.
QUICK = {
    "tabular": (
        "train.n_jobs=1",
        "train.candidates=[{name: linear, kind: linear, params: {C: [1.0]}}, "
        "{name: hgb, kind: hist_gradient_boosting, params: {max_iter: [50]}}]",
        "evaluate.permutation_rows=400",
        "evaluate.permutation_repeats=1",
    ),
    "recommender": (
        "train.candidates=[{name: popularity, kind: popularity}, {name: item_knn, kind: item_knn, "
        "params: {neighbours: [20]}}, {name: als, kind: als, params: {factors: [16], iterations: [8]}}]",
    ),
}
#: ``sample_frac`` of a recommender's quick build: a fifth of the users (a tabular one's depends on its rows).
RECOMMENDER_SAMPLE_FRAC = 0.2


def gate_checks(kind: str) -> tuple[str, ...]:
    """The gate's checks on a first model, in order (a recommender has no feature contract: no schema check)."""
    from nbprod.registry import gate

    return tuple(check for check in gate.CHECKS if kind != "recommender" or check != "schema")


def sample_decisions(kind: str) -> tuple[str, ...]:
    """What the gate may decide on a quick build: a tabular one must promote; a recommender's may reject
    (NDCG@k on a fifth of the users against the popularity baseline is noisy)."""
    from nbprod.registry import gate

    return (gate.PROMOTED, gate.REJECTED) if kind == "recommender" else (gate.PROMOTED,)


def named_columns(loaded: Mapping[str, Any]) -> list[str]:
    """The data columns the settings ``loaded`` name (a recommender's interactions, a table's features)."""
    data = loaded["data"]
    if loaded.get("kind") == "recommender":
        named = [data["user"], data["item"], data["time"], data["weight"], *data["user_attributes"],
                 *data["item_attributes"]]
    else:
        named = [data["target"], *data["drop_columns"], *data["categorical"], *data["numeric"]]
    return [name for name in named if name]


def source_columns(project: Path, loaded: Mapping[str, Any]) -> set[str]:
    """The columns of the project's data source."""
    import pandas as pd

    from nbprod import settings

    source = loaded["data"]["source"]
    if loaded.get("kind") == "recommender":
        from nbprod.recommender.data import read_source

        return set(read_source(source if source == "movielens" else str(settings.resolve_path(project, source)))
                   .columns)
    path = settings.resolve_path(project, source)
    return set(pd.read_parquet(path).columns if path.suffix == ".parquet" else pd.read_csv(path, nrows=5).columns)


def settings_problems(project: Path) -> list[str]:
    """What is wrong with the project's settings against its data: columns named but missing, a target the
    data schema does not declare (a tabular project's)."""
    import yaml

    from nbprod import settings

    loaded = settings.load(project)
    columns = source_columns(project, loaded)
    problems = [f"data names the column {name!r}, which the source lacks" for name in named_columns(loaded)
                if name not in columns]
    if loaded.get("kind") != "recommender":
        declared = yaml.safe_load(settings.resolve_path(project, loaded["data"]["schema"]).read_text())
        if loaded["data"]["target"] not in declared["columns"]:
            problems.append(f"the data schema does not declare the target {loaded['data']['target']!r}")
    return problems


def dashboard_snapshots(project: Path) -> dict[str, Path]:
    """The dashboards' static snapshots of the project's build: those the build wrote (a tabular pipeline's
    ``dashboards`` task), else written now (:func:`nbprod.recommender.dashboards.snapshots`)."""
    from nbprod.project import Project

    folder = Project.load(Path(project)).dashboard_snapshots
    written = {path.stem: path for path in sorted(folder.glob("*.html"))} if folder.is_dir() else {}
    if written:
        return written
    from nbprod.recommender.dashboards import snapshots

    return snapshots(Path(project))
