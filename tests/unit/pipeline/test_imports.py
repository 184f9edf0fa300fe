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
