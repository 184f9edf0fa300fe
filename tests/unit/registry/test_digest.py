"""nbprod.registry.digest: the digest of a model folder, and the check before a load."""

from __future__ import annotations

import logging

import pytest

from nbprod.registry.digest import ArtifactRefused, check, folder_digest


def model_folder(root):
    (root / "sub").mkdir(parents=True)
    (root / "MLmodel").write_text("flavors: {}\n")
    (root / "sub" / "model.skops").write_bytes(bytes(range(256)) * 10)
    return root


def test_the_digest_changes_with_any_byte_any_name_and_any_new_file(tmp_path):
    folder = model_folder(tmp_path / "m")
    digest = folder_digest(folder)
    assert digest.startswith("sha256:") and folder_digest(folder) == digest
    data = bytearray((folder / "sub" / "model.skops").read_bytes())
    data[1000] ^= 1
    (folder / "sub" / "model.skops").write_bytes(bytes(data))
    assert folder_digest(folder) != digest
    assert folder_digest(model_folder(tmp_path / "same")) == digest  # same files elsewhere: same digest
    (tmp_path / "same" / "MLmodel").rename(tmp_path / "same" / "MLmodel2")
    assert folder_digest(tmp_path / "same") != digest
    extra = model_folder(tmp_path / "extra")
    (extra / "evil.pkl").write_bytes(b"x")
    assert folder_digest(extra) != digest


def test_check_refuses_a_mismatch_naming_the_version_and_warns_without_a_digest(tmp_path, caplog):
    folder = model_folder(tmp_path / "m")
    check(folder, folder_digest(folder), "model 'm' version 1")
    with pytest.raises(ArtifactRefused, match=r"model 'm' version 3 refused: its files do not match the digest"):
        check(folder, "sha256:" + "0" * 64, "model 'm' version 3")
    with caplog.at_level(logging.WARNING):
        check(folder, None, "model 'm' version 4")
    assert "model 'm' version 4 has no nbprod.artifact_digest tag: loaded unchecked" in caplog.text


def test_the_file_mlflow_adds_at_registration_keeps_the_digest_logged_with_the_model(tmp_path):
    """A build's champion: training records the digest when it logs the model, then registering a version
    from the same folder makes MLflow write ``registered_model_meta`` into it; the service must still load it."""
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    (tmp_path / "model.pkl").write_bytes(b"\x80\x04weights")
    logged = folder_digest(tmp_path)
    (tmp_path / "registered_model_meta").write_text("model_name: m\nmodel_version: '1'\n")
    assert folder_digest(tmp_path) == logged
    (tmp_path / "extra.py").write_text("import os\n")  # any other new file is a change
    assert folder_digest(tmp_path) != logged
