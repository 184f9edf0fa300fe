"""The pipeline's function tasks (Ploomber calls them with ``product``, ``upstream`` and params)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from nbprod import io, tracking
from nbprod.data import raw, schema
from nbprod.tracking.tags import VALIDATION


def get(product: Any, source: str, time_column: str | None, sample_frac: float, seed: int) -> None:
    """Collect the raw table from ``source`` (sampled when ``sample_frac < 1``) into Parquet."""
    frame = raw.sample_rows(raw.load_raw(source, time_column), sample_frac, seed)
    with tracking.task_run("get"):
        tracking.log_frame_input(frame, "raw", "raw", source)
    io.write_parquet(frame, str(product))


def validate(
    product: Any,
    upstream: Mapping[str, Any],
    target: str,
    task: str,
    time_column: str | None,
    named_columns: Sequence[str],
    schema_file: str | None,
    missing_target: str = "drop",
    positive_class: Any = None,
) -> None:
    """Check the raw table against the declared schema and the target against the settings
    (:func:`nbprod.data.schema.check_target`); stop the pipeline on any failure."""
    frame = io.read_parquet(str(upstream["get"]))
    rules = schema.build_schema(schema.read_declared(schema_file),
                                schema.settings_columns(target, task, time_column, list(named_columns)))
    with tracking.task_run("validate") as run:
        import mlflow

        try:
            summary = schema.validate_table(frame, rules, exempt=[*named_columns, target])
            schema.check_target(frame, target, task, missing_target, positive_class)
        except schema.DataValidationError as error:
            mlflow.set_tag(VALIDATION, "failed")
            mlflow.log_text(str(error), "validation_errors.txt")
            raise
        mlflow.set_tag(VALIDATION, "passed")
        mlflow.log_dict(summary, "validation.json")
    io.write_json({**summary, "run_id": run.info.run_id}, str(product))
