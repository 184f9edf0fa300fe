"""Settings values are data, never templates.

Ploomber renders every string of its env with Jinja, unsandboxed: a setting such as
``data.target="{{ lipsum.__globals__['os'].system('...') }}"`` would run a shell command
while the DAG is loaded. Before the env reaches Ploomber, :func:`shield` swaps each value
that Jinja would read as a template for an inert token; :func:`restore` puts the original
text back into the task params once Ploomber has filled them in. Path settings that look
like templates are refused: Ploomber renders product paths again when it renders a task.
"""

from __future__ import annotations

import secrets
from typing import Any, Mapping

from nbprod.settings import SettingsError

#: What starts a Jinja expression, statement or comment (Jinja's default delimiters).
TEMPLATE_MARKERS = ("{{", "{%", "{#")


def is_template(value: Any) -> bool:
    """True when ``value`` is text Jinja would not pass through unchanged."""
    return isinstance(value, str) and any(marker in value for marker in TEMPLATE_MARKERS)


def refuse_template_paths(env: Mapping[str, Any], paths: tuple[tuple[str, ...], ...]) -> None:
    """Raise :class:`SettingsError` when a path setting holds template delimiters."""
    for path in paths:
        node: Any = env
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        if is_template(node):
            raise SettingsError(f"setting {'.'.join(path)}: {node!r} is not allowed: a path may not contain "
                                f"{', '.join(TEMPLATE_MARKERS)}")


def shield(value: Any, literals: dict[str, str] | None = None) -> tuple[Any, dict[str, str]]:
    """``value`` with every template-like string replaced by a token, and token -> original text."""
    literals = {} if literals is None else literals
    if isinstance(value, Mapping):
        return {key: shield(item, literals)[0] for key, item in value.items()}, literals
    if isinstance(value, (list, tuple)):
        return type(value)(shield(item, literals)[0] for item in value), literals
    if is_template(value):
        token = f"nbprod_literal_{secrets.token_hex(8)}"
        literals[token] = value
        return token, literals
    return value, literals


def restore(value: Any, literals: Mapping[str, str]) -> Any:
    """``value`` with every token of ``literals`` (whole or inside a string) replaced by its original text."""
    if not literals:
        return value
    if isinstance(value, Mapping):
        return {key: restore(item, literals) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(restore(item, literals) for item in value)
    if isinstance(value, str):
        if value in literals:
            return literals[value]
        for token, text in literals.items():
            value = value.replace(token, text)
    return value
