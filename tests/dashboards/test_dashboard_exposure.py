"""``nbprod dashboard`` is no way in: a Host check, a token beyond loopback, a cap on kernels.

A real Voila server (the app ``nbprod dashboard`` runs) on 127.0.0.1 serves one tiny notebook.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

from conftest import clean_env, free_port, serving
from nbprod.notebook.templates import with_jupyter_path

TOKEN = "dashboard-test-token"


def get(url: str, host: str | None = None, token: str | None = TOKEN) -> int:
    """The HTTP status of a GET (redirects not followed)."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    headers = {"Host": host} if host else {}
    if token:
        headers["Authorization"] = f"token {token}"
    try:
        with urllib.request.build_opener(NoRedirect).open(urllib.request.Request(url, headers=headers),
                                                           timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture(scope="module")
def voila(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The dashboards' Voila on 127.0.0.1 with a token, one kernel at most and dash.example.com allowed."""
    from nbprod.dashboards.command import voila_command

    folder = tmp_path_factory.mktemp("exposure")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('hello')")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / "hello.ipynb")
    port = free_port()
    command = voila_command(folder, port, no_browser=True, max_kernels=1, allowed_hosts=["dash.example.com"],
                            token_env="NBPROD_TOKEN")
    base = f"http://127.0.0.1:{port}"
    with serving(command, with_jupyter_path(clean_env(NBPROD_TOKEN=TOKEN)), folder, folder / "voila.log",
                 base + "/login"):
        yield base


@pytest.mark.slow
def test_a_spoofed_host_is_refused_and_local_or_allowed_hosts_are_served(voila):
    port = voila.rsplit(":", 1)[1]
    assert get(voila + "/", host=f"127.0.0.1:{port}") == 200
    assert get(voila + "/", host=f"localhost:{port}") == 200
    assert get(voila + "/", host="dash.example.com") == 200
    assert get(voila + "/", host="rebound.attacker.example") == 403
    assert get(voila + "/", host=f"10.1.2.3:{port}") == 403


@pytest.mark.slow
def test_without_the_token_nothing_renders(voila):
    assert get(voila + "/voila/render/hello.ipynb", token=None) in (302, 403)
    assert get(voila + "/", token="wrong") in (302, 403)


@pytest.mark.slow
def test_pages_beyond_the_kernel_cap_get_503(voila):
    assert get(voila + "/voila/render/hello.ipynb") == 200  # its kernel lives on until culled
    assert get(voila + "/voila/render/hello.ipynb") == 503


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::"])
def test_binding_beyond_loopback_without_a_token_is_refused_unless_insecure(host, monkeypatch, capsys):
    from nbprod.cli import main

    monkeypatch.delenv("NBPROD_TOKEN", raising=False)
    assert main(["dashboard", "--project", str(Path(__file__).resolve().parents[2]), "--host", host]) == 2
    err = capsys.readouterr().err
    assert f"nbprod dashboard --host {host} would accept requests from the network without a token" in err
    assert "NBPROD_TOKEN" in err and "--insecure" in err


def test_the_host_allow_list_follows_the_bound_address():
    from nbprod.dashboards.command import voila_command

    def allowed(host: str, names=()) -> list[str]:
        line = voila_command(Path("/d"), 8866, no_browser=True, host=host, allowed_hosts=list(names))
        return [item.split("=", 1)[1] for item in line if item.startswith("--GuardedVoila.allowed_hosts=")]

    assert allowed("127.0.0.1") == ["127.0.0.1"]
    assert allowed("10.0.0.5", ["dash.example.com"]) == ["dash.example.com", "10.0.0.5"]
    assert allowed("0.0.0.0", ["dash.example.com"]) == ["dash.example.com"]
    assert allowed("0.0.0.0") == ["*"]  # every interface, no name given: the token guards it (as nbprod serve)
