"""Project settings: ``env.yaml`` merged with command-line overrides.

``env.yaml`` is the one place where the pipeline's defaults live; this module
only reads, merges and checks them. Nothing is read at import time.
"""

from __future__ import annotations

import copy
import difflib
import functools
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import yaml

ENV_FILE = "env.yaml"
PIPELINE_FILE = "pipeline.yaml"

#: Every key ``env.yaml`` must define, with the type its value must have.
SCHEMA: dict[str, Any] = {
    "products": str,
    "reports": str,
    "sample_frac": (int, float),
    "seed": int,
    "data": {
        "source": str,
        "target": str,
        "task": str,
        "time_column": (str, type(None)),
        "drop_columns": list,
        "categorical": list,
        "numeric": list,
        "missing_target": str,
        "positive_class": (str, int, bool, type(None)),
        "schema": (str, type(None)),
    },
    "split": {
        "valid_start": (str, int),      # a date, or an integer period (2012, 201309) for a period time column
        "test_start": (str, int),
        "new_start": (str, int),
        "valid_frac": float,
        "test_frac": float,
    },
    "train": {"n_jobs": int, "max_categories": int, "candidates": list},
    "evaluate": {
        "metric": str,
        "permutation_rows": int,
        "permutation_repeats": int,
    },
    "tracking": {"uri": str, "experiment": str, "auth_db": str},
    "engine": {"kind": str, "scheduler": (str, type(None)), "products_url": (str, type(None))},
    "registry": {
        "model_name": str,
        "alias": str,
        "margin": (int, float),
        "budget": {"max_size_mb": (int, float), "max_memory_mb": (int, float), "max_p99_ms": (int, float)},
    },
    "serve": {
        "host": str,
        "port": int,
        "token_env": str,
        "max_body_mb": (int, float),
        "max_rows": int,
        "max_text_chars": int,
        "reload_seconds": (int, float),
        "prediction_log": str,
        "log_flush_rows": int,
        "log_flush_seconds": (int, float),
        "log_max_rows": int,
        "log_policy": str,
        "allowed_hosts": list,
        "cors_origins": list,
        "max_in_flight": int,
        "max_in_flight_mb": (int, float),
        "max_queue_rows": int,
        "max_connections": int,
        "request_timeout_seconds": (int, float),
        "header_timeout_seconds": (int, float),
        "body_timeout_seconds": (int, float),
        "parse_in_thread_kb": (int, float),
        "load_backoff_max_seconds": (int, float),
    },
    "monitor": {
        "window": str,
        "window_column": str,
        "min_rows": int,
        "drift_share": (int, float),
        "ignore_columns": list,
        "trigger_k": int,
        "trigger_n": int,
        "performance_metric": str,
        "performance_floor": (int, float, type(None)),
        "performance_drop": (int, float, type(None)),
        "reference_start": (str, int, type(None)),
        "reference_end": (str, int, type(None)),
        "current_start": (str, int, type(None)),
        "current_end": (str, int, type(None)),
        "retrain": bool,
        "reports": str,
    },
    "alerts": {
        "webhooks": list,               # entries checked by nbprod.alerts.check_webhooks
        "timeout_seconds": (int, float),
        "retries": int,
        "backoff_seconds": (int, float),
        "deadline_seconds": (int, float),
        "queue_size": int,
    },
}

#: The sections of a tabular ``env.yaml`` that an older one may lack: :func:`with_defaults` completes them from
#: the reference ``env.yaml`` (a recommender's are :data:`nbprod.recommender.settings.SHARED`).
OPERATIONAL = ("tracking", "registry", "serve", "monitor", "alerts", "engine")

#: ``kind``: what the project makes (absent: tabular). Each kind has its own schema (:func:`schema_for`).
KINDS = ("tabular", "recommender")

CHOICES = {
    ("data", "task"): ("classification", "regression"),
    ("data", "missing_target"): ("drop", "positive"),
    ("serve", "log_policy"): ("refuse", "serve"),
    ("engine", "kind"): ("local", "dask"),
}


def _positive(value: Any) -> bool:
    return value > 0


def _at_least_one(value: Any) -> bool:
    return value >= 1


def s3_location(value: str) -> tuple[str, str] | None:
    """``(bucket, prefix)`` of an ``s3://BUCKET/PREFIX`` address (the prefix without slashes at its ends; may be
    empty), else None."""
    from urllib.parse import urlparse

    parts = urlparse(value)
    return (parts.netloc, parts.path.strip("/")) if parts.scheme == "s3" and parts.netloc else None


def _none_or_non_negative(value: Any) -> bool:
    return value is None or value >= 0


#: Numeric settings with a range: key path -> (test, what the value must be).
LIMITS: dict[tuple[str, ...], tuple[Callable[[Any], bool], str]] = {
    ("sample_frac",): (lambda value: 0 < value <= 1, "in (0, 1]"),
    ("train", "n_jobs"): (lambda value: value != 0, "a number of processes (-1: all cores), not 0"),
    ("train", "max_categories"): (_at_least_one, "at least 1"),
    ("evaluate", "permutation_rows"): (_at_least_one, "at least 1"),
    ("evaluate", "permutation_repeats"): (_at_least_one, "at least 1"),
    ("registry", "budget", "max_size_mb"): (_positive, "greater than 0"),
    ("registry", "budget", "max_memory_mb"): (_positive, "greater than 0"),
    ("registry", "budget", "max_p99_ms"): (_positive, "greater than 0"),
    ("serve", "port"): (lambda value: 0 < value < 65536, "between 1 and 65535"),
    ("engine", "scheduler"): (lambda value: value is None or "://" in value,
                              "null (a cluster of local processes) or a scheduler address such as tcp://HOST:PORT"),
    ("engine", "products_url"): (lambda value: value is None or s3_location(value) is not None,
                                 "null (products in the project's folders) or s3://BUCKET/PREFIX"),
    ("serve", "max_body_mb"): (_positive, "greater than 0"),
    ("serve", "max_rows"): (_at_least_one, "at least 1"),
    ("serve", "max_text_chars"): (_at_least_one, "at least 1"),
    ("serve", "reload_seconds"): (_positive, "greater than 0"),
    ("serve", "log_flush_rows"): (_at_least_one, "at least 1"),
    ("serve", "log_flush_seconds"): (_positive, "greater than 0"),
    ("serve", "log_max_rows"): (_at_least_one, "at least 1"),
    ("serve", "max_in_flight"): (_at_least_one, "at least 1"),
    ("serve", "max_in_flight_mb"): (_positive, "greater than 0"),
    ("serve", "max_queue_rows"): (_at_least_one, "at least 1"),
    ("serve", "max_connections"): (_at_least_one, "at least 1"),
    ("serve", "request_timeout_seconds"): (_positive, "greater than 0"),
    ("serve", "header_timeout_seconds"): (_positive, "greater than 0"),
    ("serve", "body_timeout_seconds"): (_positive, "greater than 0"),
    ("serve", "parse_in_thread_kb"): (lambda value: value >= 0, "at least 0"),
    ("serve", "load_backoff_max_seconds"): (_positive, "greater than 0"),
    ("monitor", "min_rows"): (_at_least_one, "at least 1"),
    ("monitor", "drift_share"): (lambda value: 0 < value <= 1, "in (0, 1]"),
    ("monitor", "trigger_k"): (_at_least_one, "at least 1"),
    ("monitor", "trigger_n"): (_at_least_one, "at least 1"),
    ("monitor", "performance_drop"): (_none_or_non_negative, "null or at least 0"),
    ("alerts", "timeout_seconds"): (_positive, "greater than 0"),
    ("alerts", "retries"): (lambda value: value >= 0, "at least 0"),
    ("alerts", "backoff_seconds"): (lambda value: value >= 0, "at least 0"),
    ("alerts", "deadline_seconds"): (_positive, "greater than 0"),
    ("alerts", "queue_size"): (_at_least_one, "at least 1"),
}


class SettingsError(ValueError):
    """A setting is missing, unknown or of the wrong type."""


#: How a type of :data:`SCHEMA` is named in an error message.
TYPE_NAMES = {int: "an integer", float: "a number", str: "text", list: "a list", bool: "a boolean (true/false)",
              type(None): "null"}


def describe_type(expected: Any) -> str:
    """``(int, float, type(None))`` as ``"a number or null"``: what a setting of this type accepts."""
    if isinstance(expected, dict):
        return "a mapping"
    types = expected if isinstance(expected, tuple) else (expected,)
    if float in types:  # an integer is a number too
        types = tuple(kind for kind in types if kind is not int)
    return " or ".join(TYPE_NAMES.get(kind, kind.__name__) for kind in types)


def type_name(value: Any) -> str:
    """What a YAML value is, in the words of :data:`TYPE_NAMES` (``'200'`` is text, ``2.5`` a number)."""
    return "a mapping" if isinstance(value, Mapping) else TYPE_NAMES.get(type(value), type(value).__name__)


def unknown_setting(path: list[str], schema: Mapping) -> SettingsError:
    """An error naming an unknown setting and the nearest known one (or the known keys at its level)."""
    name, prefix = ".".join(path), ".".join(path[:-1])
    if not isinstance(schema, Mapping):
        return SettingsError(f"unknown setting {name!r}: {prefix!r} is a single value, it has no keys")
    known = sorted(schema)
    nearest = difflib.get_close_matches(path[-1], known, n=1)
    hint = f"did you mean {'.'.join([*path[:-1], nearest[0]])!r}?" if nearest else \
        f"the keys{' of ' + repr(prefix) if prefix else ''} are {', '.join(known)}"
    return SettingsError(f"unknown setting {name!r}; {hint}")


def schema_for(settings: Mapping) -> dict[str, Any]:
    """The schema of the project's ``kind`` (:data:`KINDS`): the tabular :data:`SCHEMA` when absent."""
    kind = settings.get("kind", "tabular") if isinstance(settings, Mapping) else "tabular"
    if kind == "recommender":
        from nbprod.recommender.settings import schema

        return schema(SCHEMA)
    if kind != "tabular":
        raise SettingsError(f"setting 'kind' must be one of {KINDS}, got {kind!r}")
    return {**SCHEMA, "kind": str} if "kind" in settings else SCHEMA


def kind_rules(settings: Mapping) -> tuple[dict, dict]:
    """The choices and limits of the project's kind."""
    if settings.get("kind", "tabular") == "recommender":
        from nbprod.recommender import settings as recommender

        shared = {path: rule for path, rule in LIMITS.items()
                  if path[0] in recommender.SHARED or path == ("sample_frac",)}
        return recommender.CHOICES, {**shared, **recommender.LIMITS}
    return CHOICES, LIMITS


def find_project_root(start: Path | None = None) -> Path:
    """Return the nearest folder at or above ``start`` holding ``pipeline.yaml``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PIPELINE_FILE).is_file():
            return folder
    raise SettingsError(f"no {PIPELINE_FILE} found in {here} or any folder above it")


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``a.b=value`` into a key path and a YAML-typed value."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise SettingsError(f"override {text!r} is not of the form key.path=value")
    return key.strip().split("."), yaml.safe_load(raw) if raw.strip() else None


def apply_override(settings: dict, path: list[str], value: Any) -> None:
    """Set ``settings[path[0]]...[path[-1]] = value`` for a key the schema knows."""
    node, schema = settings, schema_for(settings)
    for depth, key in enumerate(path):
        if not isinstance(schema, dict) or key not in schema:
            raise unknown_setting(path[: depth + 1], schema)
        if depth == len(path) - 1:
            node[key] = _date_as_text(value, schema[key])
        else:
            node = node.setdefault(key, {})
            schema = schema[key]


def expected_type(path: Iterable[str], schema: Mapping | None = None) -> Any:
    """The type (or tuple of types) ``schema`` (default :data:`SCHEMA`) gives the setting at ``path``."""
    path, node = list(path), SCHEMA if schema is None else schema
    for depth, key in enumerate(path):
        if not isinstance(node, dict) or key not in node:
            raise unknown_setting(path[: depth + 1], node)
        node = node[key]
    return node


def _date_as_text(value: Any, expected: Any) -> Any:
    """A YAML date (``--set split.new_start=2013-10-01``) as ISO text where the setting is text."""
    import datetime

    texts = expected if isinstance(expected, tuple) else (expected,)
    if str in texts and isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def check(settings: Mapping, schema: Mapping = SCHEMA, prefix: str = "") -> None:
    """Raise :class:`SettingsError` naming the first missing, unknown or mistyped key."""
    if prefix == "" and schema is SCHEMA:
        schema = schema_for(settings)
    for key in settings:
        if key not in schema:
            raise unknown_setting([*prefix.split(".")[:-1], str(key)], schema)
    for key, expected in schema.items():
        name = prefix + key
        if key not in settings:
            raise SettingsError(f"missing setting {name!r}: expected {describe_type(expected)}")
        value = settings[key]
        if isinstance(expected, dict):
            if not isinstance(value, Mapping):
                raise SettingsError(f"setting {name!r} must be a mapping (keys {', '.join(expected)}), got {value!r}")
            check(value, expected, name + ".")
        elif not isinstance(value, expected) or isinstance(value, bool) and bool not in _types(expected):
            raise SettingsError(f"setting {name!r} has the wrong type: {value!r} ({type_name(value)}); "
                                f"expected {describe_type(expected)}")
    if prefix == "":
        check_values(settings)


def _types(expected: Any) -> tuple:
    return expected if isinstance(expected, tuple) else (expected,)


def check_values(settings: Mapping) -> None:
    """Raise :class:`SettingsError` naming the first setting outside its :data:`CHOICES` or :data:`LIMITS`
    (those of the project's kind)."""
    choices, limits = kind_rules(settings)
    for path, allowed in choices.items():
        if _get(settings, path) not in allowed:
            raise SettingsError(
                f"setting {'.'.join(path)!r} must be one of {allowed}, got {_get(settings, path)!r}"
            )
    for path, (test, wanted) in limits.items():
        if not test(_get(settings, path)):
            raise SettingsError(f"setting {'.'.join(path)!r} must be {wanted}, got {_get(settings, path)!r}")
    monitor = settings["monitor"]
    if monitor["trigger_k"] > monitor["trigger_n"]:
        raise SettingsError(f"setting 'monitor.trigger_k' ({monitor['trigger_k']}) must not exceed "
                            f"'monitor.trigger_n' ({monitor['trigger_n']}): the rule could never fire")
    from nbprod.alerts import check_webhooks

    check_webhooks(settings["alerts"]["webhooks"])


def _get(settings: Mapping, path: Iterable[str]) -> Any:
    node: Any = settings
    for key in path:
        node = node[key]
    return node


@functools.lru_cache(maxsize=1)
def reference_settings() -> dict[str, Any]:
    """nbprod's reference ``env.yaml`` (the project template's): the defaults :func:`with_defaults` uses.
    Read once and shared: never modify it."""
    from nbprod.scaffold.template import template_folder

    return yaml.safe_load((template_folder() / ENV_FILE).read_text())


def with_defaults(settings: Any) -> tuple[Any, list[tuple[str, Any]]]:
    """``settings`` with its operational sections completed from :func:`reference_settings`, and the
    (dotted name, value) of each setting so taken from nbprod's defaults.

    An ``env.yaml`` written by an older nbprod lacks the settings added since; those of the operational
    sections (tabular: :data:`OPERATIONAL`; recommender: its shared sections) take the reference's value,
    key by key: nested mappings are merged, the project's values always win, a section present but empty
    (``alerts:``) takes the whole default, and a non-mapping where a mapping is expected is left for
    :func:`check` to name (as are unknown keys). These sections say where the store is, how the service and
    the monitor guard themselves, whom to alert and where tasks run: the reference's values suit any project.
    The other sections (``data``, ``split``, ``train``, ``evaluate``, ``products``, ``reports``,
    ``sample_frac``, ``seed``) describe the project's own data and question: the reference's (a column of
    the flights data, dates of 2013) would silently build something else, so a missing one stays an error.
    A recommender's ``monitor`` is its own, not the tabular one. A recommender's ``serve``, ``alerts`` and
    ``engine``, which its ``env.yaml`` leaves to nbprod on purpose
    (:data:`nbprod.recommender.settings.IMPLICIT`), are completed but not listed.
    """
    if not isinstance(settings, dict):
        return settings, []  # left for check to name
    sections, implicit = OPERATIONAL, ()
    if settings.get("kind") == "recommender":
        from nbprod.recommender.settings import IMPLICIT, SHARED

        sections, implicit = SHARED, IMPLICIT
    reference, used = reference_settings(), []
    completed = _complete(settings, {name: reference[name] for name in sections}, "", used)
    return completed, [(name, value) for name, value in used if name.split(".")[0] not in implicit]


def _complete(own: Mapping, default: Mapping, prefix: str, used: list[tuple[str, Any]]) -> dict:
    """``own`` with the keys of ``default`` it lacks (recursively), each recorded in ``used``."""
    merged = dict(own)
    for key, value in default.items():
        mine = own.get(key)
        if key not in own or mine is None and isinstance(value, Mapping):
            merged[key] = copy.deepcopy(value)
            used.append((prefix + key, copy.deepcopy(value)))
        elif isinstance(mine, Mapping) and isinstance(value, Mapping):
            merged[key] = _complete(mine, value, f"{prefix}{key}.", used)
    return merged


def defaults_notice(used: list[tuple[str, Any]], source: str = ENV_FILE) -> str:
    """One line saying which settings ``source`` lacks and the defaults used for them (``used`` of
    :func:`with_defaults`, not empty)."""
    if len(used) == 1:
        name, value = used[0]
        return f"{source} has no {name}; using nbprod's default {_short(value)} (add it to {source} to choose another)"
    pairs = ", ".join(f"{name}={_short(value)}" for name, value in used)
    return (f"{source} lacks {len(used)} settings; using nbprod's defaults {pairs} "
            f"(add them to {source} to choose others)")


def _short(value: Any, width: int = 32) -> str:
    """``value`` as it would be written in ``env.yaml`` (flow style), cut to ``width`` characters."""
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=float("inf")).splitlines()[0]
    return text if len(text) <= width else text[: width - 3] + "..."


def load(
    project: Path | None = None,
    env_file: Path | None = None,
    overrides: Iterable[str] = (),
    defaults_used: list[tuple[str, Any]] | None = None,
) -> dict:
    """Load ``env.yaml`` (or ``env_file``), complete its operational sections (:func:`with_defaults`), apply
    ``key=value`` overrides and check the result. ``defaults_used``, when given, is extended with the
    (dotted name, value) of each setting taken from nbprod's defaults that no override replaced."""
    root = project or find_project_root()
    path = env_file or root / ENV_FILE
    try:
        settings = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError as error:
        raise SettingsError(f"settings file {path} does not exist") from error
    settings, used = with_defaults(copy.deepcopy(settings))
    overridden = []
    for text in overrides:
        key_path, value = parse_override(text)
        apply_override(settings, key_path, value)
        overridden.append(".".join(key_path))
    check(settings)
    if defaults_used is not None:
        defaults_used.extend((name, value) for name, value in used
                             if not any(name == key or name.startswith(key + ".") for key in overridden))
    return settings


def resolve_path(project: Path, value: str) -> Path:
    """Return ``value`` as an absolute path, relative ones taken from ``project``."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else project / path
