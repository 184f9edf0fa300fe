"""``nbprod serve`` bound beyond loopback needs a token, or ``--insecure`` (then a loud warning)."""

from __future__ import annotations

import pytest

from nbprod import cli
from nbprod.serving.exposure import exposure_refusal, exposure_warning, is_loopback

from project_copy import REPO


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True),
                                            ("::1", True), ("[::1]", True), ("0.0.0.0", False), ("::", False),
                                            ("192.168.1.10", False), ("myhost.example", False), ("", False)])
def test_what_counts_as_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_serve_on_every_interface_without_a_token_is_refused_in_one_line(monkeypatch, capsys):
    monkeypatch.delenv("NBPROD_TOKEN", raising=False)
    assert cli.main(["serve", "--project", str(REPO), "--host", "0.0.0.0"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "NBPROD_TOKEN" in error and "--insecure" in error and "0.0.0.0" in error


def test_a_token_or_insecure_lifts_the_refusal_and_insecure_warns():
    assert exposure_refusal("0.0.0.0", token_set=True, insecure=False, server="s", token_env="T") is None
    assert exposure_refusal("127.0.0.1", token_set=False, insecure=False, server="s", token_env="T") is None
    assert exposure_refusal("0.0.0.0", token_set=False, insecure=True, server="s", token_env="T") is None
    assert "WITHOUT A TOKEN" in exposure_warning("0.0.0.0", token_set=False, insecure=True, server="s")
    assert exposure_warning("0.0.0.0", token_set=True, insecure=True, server="s") is None
    assert exposure_warning("127.0.0.1", token_set=False, insecure=True, server="s") is None


def test_bound_to_every_interface_the_host_is_checked_only_against_listed_names():
    from nbprod.serving.guards import allowed_hosts

    assert allowed_hosts("0.0.0.0", 8765, ()) is None and allowed_hosts("::", 8765, ()) is None
    listed = allowed_hosts("0.0.0.0", 8765, ("api.example.com",))
    assert b"api.example.com" in listed and b"api.example.com:8765" in listed and b"localhost:8765" in listed
    assert b"evil.example:8765" not in listed
    assert allowed_hosts("127.0.0.1", 8765, ("*",)) is None
    assert b"[::1]:8765" in allowed_hosts("::1", 8765, ())
