"""The Jupyter server configuration nbprod installs: Ploomber's server extension off.

Its contents manager calls jupyter_server 2's async one without awaiting it, so every
file request fails; ``tests/dashboards/test_binder.py`` checks a real server.
"""

from __future__ import annotations

import json
import tomllib

from .helpers import REPO


def test_the_wheel_installs_a_config_that_switches_ploombers_extension_off():
    data_files = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    [source] = data_files["etc/jupyter/jupyter_server_config.d"]
    config = json.loads((REPO / source).read_text())
    assert config == {"ServerApp": {"jpserver_extensions": {"ploomber": False}}}
    # files in a .d folder are merged in name order: this one must come after Ploomber's own
    name = (REPO / source).name
    assert sorted([name, "ploomber.json", "ploomber_extension.json"])[-1] == name


def test_editable_installs_switch_it_off_too():
    command = "jupyter server extension disable --sys-prefix ploomber"
    assert command in (REPO / "Makefile").read_text()
    assert command in (REPO / "binder" / "postBuild").read_text()
