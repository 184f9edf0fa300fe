"""The build's process defers compiling jsonschema's IRI grammars until an IRI is checked."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from nbprod.pipeline.imports import defer_iri_grammar
deferred = defer_iri_grammar()
import jsonschema
compiled_at_import = "lark" in sys.modules
checker = jsonschema.FormatChecker()
answers = [checker.conforms(value, "iri") for value in ("https://example.org/caf\\u00e9?q=1", "not an iri", "")]
print(json.dumps({"deferred": deferred, "compiled_at_import": compiled_at_import, "answers": answers,
                  "compiled_after": "lark" in sys.modules, "again": defer_iri_grammar()}))
"""

REAL = """
import json, jsonschema
checker = jsonschema.FormatChecker()
print(json.dumps([checker.conforms(value, "iri") for value in ("https://example.org/caf\\u00e9?q=1", "not an iri", "")]))
"""


def run(code: str):
    return json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                     check=True).stdout)


def test_the_grammar_is_compiled_on_the_first_check_and_answers_as_without_the_stand_in():
    found = run(PROBE)
    assert found["deferred"] is True and found["compiled_at_import"] is False
    assert found["answers"] == run(REAL) == [True, False, False]
    assert found["compiled_after"] is True and found["again"] is False  # the real module is in place now


def test_ahead_declares_a_function_tasks_imports_and_returns_the_function_itself():
    from nbprod.pipeline import imports

    def task() -> None:
        """A function task."""

    assert imports.ahead("json", "colorsys")(task) is task
    assert getattr(task, imports.AHEAD_ATTRIBUTE) == ("json", "colorsys")


def test_modules_are_imported_in_a_thread_of_their_own_and_a_failure_is_left_to_the_task(tmp_path, monkeypatch):
    from nbprod.pipeline import imports

    (tmp_path / "nbprod_ahead_probe.py").write_text("import threading\nTHREAD = threading.current_thread().name\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "nbprod_ahead_probe", raising=False)
    thread = imports.in_background(["nbprod_no_such_module", "nbprod_ahead_probe"])
    thread.join(30)
    assert not thread.is_alive() and sys.modules["nbprod_ahead_probe"].THREAD == "nbprod-imports-ahead"
    assert "nbprod_no_such_module" not in sys.modules
