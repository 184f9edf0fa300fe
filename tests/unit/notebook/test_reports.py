"""nbprod.notebook.reports: DAG layers and picture, notebooks to HTML."""

from __future__ import annotations

from matplotlib.figure import Figure

from nbprod.notebook.reports import dag_figure, layers

EDGES = [("get", "validate"), ("get", "eda"), ("validate", "prepare"), ("prepare", "train"),
         ("prepare", "evaluate"), ("train", "evaluate")]
NAMES = ["get", "validate", "eda", "prepare", "train", "evaluate"]


def test_layers_is_the_longest_path_from_a_source():
    assert layers(EDGES, NAMES) == {"get": 0, "validate": 1, "eda": 1, "prepare": 2, "train": 3, "evaluate": 4}


def test_layers_of_unconnected_tasks_are_zero():
    assert layers([], ["a", "b"]) == {"a": 0, "b": 0}


def test_dag_figure_draws_every_task_and_arrow():
    figure = dag_figure(EDGES, NAMES)
    assert isinstance(figure, Figure)
    axis = figure.axes[0]
    texts = [text.get_text() for text in axis.texts]
    assert sorted(name for name in texts if name) == sorted(NAMES)
    assert len([text for text in axis.texts if not text.get_text()]) == len(EDGES)  # arrows are empty annotations
    assert axis.get_xlim() == (-0.6, 4.6)


def test_dag_figure_widens_with_depth():
    narrow, wide = dag_figure([("a", "b")], ["a", "b"]), dag_figure(EDGES, NAMES)
    assert wide.get_figwidth() > narrow.get_figwidth()


def test_dag_figure_saves_as_png(tmp_path):
    dag_figure([("a", "b")], ["a", "b"]).savefig(tmp_path / "dag.png")
    assert (tmp_path / "dag.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_notebook_to_html(tmp_path):
    import nbformat

    from nbprod.notebook.reports import notebook_to_html

    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Tiny report"),
        nbformat.v4.new_code_cell("print(6 * 7)", outputs=[nbformat.v4.new_output("stream", text="42\n")]),
    ])
    path = tmp_path / "tiny.ipynb"
    nbformat.write(notebook, path)
    html_path = notebook_to_html(path)
    assert html_path == tmp_path / "tiny.html"
    html = html_path.read_text()
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "Tiny report" in html and "42" in html and "print" in html
    assert not list(tmp_path.glob(".*.tmp"))

