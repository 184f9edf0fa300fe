"""nbprod.pipeline.literal: settings values reach Ploomber as inert tokens and come back unchanged."""

from __future__ import annotations

import pytest

from nbprod.pipeline.literal import refuse_template_paths, restore, shield
from nbprod.settings import SettingsError

PAYLOAD = "{{ lipsum.__globals__['os'].system('touch injected.txt') }}"


def test_shield_swaps_every_template_like_string_for_a_plain_token():
    env = {"data": {"target": PAYLOAD, "drop_columns": ["{% raw %}", "flight"], "task": "classification"},
           "seed": 1, "note": "{# comment #}"}
    shielded, literals = shield(env)
    assert len(literals) == 3
    flat = [shielded["data"]["target"], shielded["data"]["drop_columns"][0], shielded["note"]]
    assert all(token in literals and "{" not in token for token in flat)
    assert shielded["data"]["drop_columns"][1] == "flight" and shielded["seed"] == 1
    assert shielded["data"]["task"] == "classification"


def test_restore_gives_back_the_original_text_whole_or_inside_a_rendered_string():
    shielded, literals = shield({"target": PAYLOAD})
    token = shielded["target"]
    assert restore(token, literals) == PAYLOAD
    assert restore({"named": [token, "flight"]}, literals) == {"named": [PAYLOAD, "flight"]}
    assert restore(f"prefix-{token}", literals) == f"prefix-{PAYLOAD}"
    assert restore(3, literals) == 3


def test_a_path_setting_that_looks_like_a_template_is_refused_naming_it():
    with pytest.raises(SettingsError, match=r"setting products: .*lipsum.* is not allowed: a path may not contain"):
        refuse_template_paths({"products": PAYLOAD, "data": {"schema": None}}, (("products",), ("data", "schema")))
    refuse_template_paths({"products": "build", "data": {"schema": None}}, (("products",), ("data", "schema")))
