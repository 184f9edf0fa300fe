"""A small sample project for the dashboard tests: build, registered versions, drift history.

``python sample_build.py <project>`` (after ``nbprod build`` of that project, with
``MLFLOW_TRACKING_URI`` pointing at its store) registers two versions through the
registry's gate -- the build's best candidate (promoted: it beats the naive
baseline) and its worst (rejected: it does not beat the champion) -- and writes
``reports/monitoring/drift_history.json`` (see :mod:`drift_fixture`). It runs in
its own process so that the tests' MLflow state stays untouched.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SAMPLE_FRAC = 0.02
#: ``monitor.min_rows`` of the sample: its weekly windows hold about 2% of a week's flights (~130 rows),
#: so most vote and a last partial week does not.
MIN_ROWS = 60


def make_project(folder: Path) -> Path:
    """Copy the repository's pipeline, settings, schemas and pipeline notebooks into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "pipeline.yaml", folder / "pipeline.yaml")
    settings = (REPO / "env.yaml").read_text()
    pattern = re.compile(r"^(  min_rows:\s*)\d+", re.MULTILINE)
    if not pattern.search(settings):
        raise ValueError("env.yaml has no monitor.min_rows line to change for the sample")
    (folder / "env.yaml").write_text(pattern.sub(rf"\g<1>{MIN_ROWS}", settings, count=1))
    shutil.copytree(REPO / "schemas", folder / "schemas")
    shutil.copytree(REPO / "notebooks", folder / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return folder


def build(project: Path, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
    """``nbprod build`` of the project on a sample of the rows."""
    return subprocess.run([sys.executable, "-m", "nbprod.cli", "build", "--project", str(project),
                           "--set", f"sample_frac={SAMPLE_FRAC}"], env=env, cwd=project, capture_output=True,
                          text=True, timeout=timeout)


def register_and_monitor(project: Path) -> dict:
    """Register v1 (promoted) and v2 (rejected) through the gate; write the drift history."""
    import mlflow
    import mlflow.sklearn
    from sklearn.metrics import roc_auc_score

    sys.path.insert(0, str(HERE))
    import drift_fixture

    from nbprod import settings as settings_module
    from nbprod import tracking
    from nbprod.registry import gate
    from nbprod.registry.task import run_gate

    settings = settings_module.load(project, None, [f"sample_frac={SAMPLE_FRAC}"])
    tracking.configure(settings, project)
    reports = project / settings["reports"]
    products = project / settings["products"]
    evaluation_path = products / "evaluation.json"
    figures = gate.BudgetFigures(size_mb=1.0, memory_mb=40.0, p99_ms=3.0, details={"note": "test figures"})
    limits = gate.Limits(**{key: float(value) for key, value in settings["registry"]["budget"].items()})
    common = dict(model_name=settings["registry"]["model_name"], alias=settings["registry"]["alias"],
                  margin=float(settings["registry"]["margin"]), limits=limits, figures=figures)
    first = run_gate(evaluation_path, reports / "promotion.json", reports / "promotion.html", **common)
    evaluation = json.loads(evaluation_path.read_text())
    worst = min(evaluation["candidates"], key=lambda name: evaluation["candidates"][name]["metrics"]["roc_auc"])
    other = products / "evaluation-worst.json"
    other.write_text(json.dumps({**evaluation, "best": worst}))
    second = run_gate(other, reports / "promotion-2.json", reports / "promotion-2.html", **common)

    target, time_column = settings["data"]["target"], settings["data"]["time_column"]
    model = mlflow.sklearn.load_model(f"models:/{common['model_name']}@{common['alias']}")

    def score(rows):
        y = rows[target]
        if y.nunique() < 2:
            return None
        return float(roc_auc_score(y, model.predict_proba(rows.drop(columns=[target]))[:, 1]))

    reference = evaluation["candidates"][evaluation["best"]]["metrics"]["roc_auc"]
    monitoring = project / (settings.get("monitor") or {}).get("reports", "reports/monitoring")
    history = drift_fixture.write_history(products, monitoring / "drift_history.json", target,
                                          time_column, first["candidate"]["version"], score, "roc_auc",
                                          reference, second["candidate"]["version"], second["decision"])
    summary = {"first": {k: first[k] for k in ("decision", "champion_after")} | {"version": first["candidate"]["version"]},
               "second": {k: second[k] for k in ("decision", "champion_after")} | {"version": second["candidate"]["version"]},
               "windows": len(history["windows"])}
    (project / "sample.json").write_text(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    print(json.dumps(register_and_monitor(Path(sys.argv[1]).resolve())))
