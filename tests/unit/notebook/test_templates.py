"""nbprod.notebook.templates: reports and dashboards render without fetching anything from a CDN."""

from __future__ import annotations

import os
import re

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from nbprod.notebook.reports import notebook_to_html
from nbprod.notebook.templates import JUPYTER_DATA, with_jupyter_path
from pages import external_loads


def test_external_loads_finds_cdn_scripts_and_stylesheets_only():
    html = ('<script src="https://cdn.example.org/require.js"></script><link rel="stylesheet" '
            'href="//cdn.example.org/a.css"><script src="static/voila.js"></script>'
            '<img src="http://127.0.0.1:8866/x.png"><a href="https://example.org/">a link is not a load</a>')
    assert external_loads(html) == ["https://cdn.example.org/require.js", "//cdn.example.org/a.css"]


def test_report_html_shows_outputs_and_loads_nothing_from_outside(tmp_path):
    notebook = new_notebook(cells=[
        new_markdown_cell("# Training report"),
        new_code_cell("print('roc auc 0.74')", outputs=[new_output("stream", name="stdout", text="roc auc 0.74\n")]),
    ])
    path = tmp_path / "train.ipynb"
    nbformat.write(notebook, path)
    html = notebook_to_html(path).read_text()
    assert "Training report" in html and "roc auc 0.74" in html
    assert external_loads(html) == []
    assert "require.min.js" not in html
    assert not re.search(r"https?://[^\s\"']*(cdn|unpkg)", html), "no CDN address, even in inline scripts"


def test_voila_finds_the_nbprod_template_on_the_jupyter_path():
    from voila.paths import collect_template_paths

    env = with_jupyter_path({"JUPYTER_PATH": os.pathsep.join(["/elsewhere", str(JUPYTER_DATA)])})
    roots = env["JUPYTER_PATH"].split(os.pathsep)
    assert roots == [str(JUPYTER_DATA), "/elsewhere"]  # first, and only once
    paths = collect_template_paths(["voila", "nbconvert"], "nbprod", prune=True, root_dirs=roots)
    assert str(JUPYTER_DATA / "voila" / "templates" / "nbprod") == paths[0]
    assert (JUPYTER_DATA / "voila" / "templates" / "nbprod" / "index.html.j2").is_file()
