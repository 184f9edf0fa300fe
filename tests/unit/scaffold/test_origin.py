"""Where a new project installs nbprod from: the installation's own PEP 610 record."""

from __future__ import annotations

import json

from nbprod.scaffold.origin import installed_origin, origin_from


def test_a_wheel_installation_is_installed_again_from_the_same_wheel():
    record = json.dumps({"url": "file:///wheels/nbprod-0.1.0-py3-none-any.whl", "archive_info": {}})
    origin = origin_from("0.1.0", record)
    assert origin.requirement() == "nbprod @ file:///wheels/nbprod-0.1.0-py3-none-any.whl"
    assert origin.requirement("test") == "nbprod[test] @ file:///wheels/nbprod-0.1.0-py3-none-any.whl"


def test_a_source_folder_is_installed_again_from_the_folder_and_an_index_install_by_version():
    folder = origin_from("0.1.0", json.dumps({"url": "file:///src/nbprod", "dir_info": {"editable": True}}))
    assert folder.requirement() == "nbprod @ file:///src/nbprod"
    assert origin_from("0.2.0", None).requirement("test") == "nbprod[test]==0.2.0"


def test_the_running_installation_has_an_origin():
    origin = installed_origin()
    assert origin.version and origin.requirement().startswith("nbprod")
