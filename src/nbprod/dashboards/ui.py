"""Display helpers for the dashboards: headline, tables, figures as PNG, and pickers.

In Voila a picker is an ipywidgets dropdown above an HTML widget that is
redrawn when the choice changes: the helpers below write HTML fragments into it
(figures as inline PNG) instead of displaying them. An ``Output`` widget is
deliberately not used: while a cell runs, Voila's executor mirrors every output
drawn into one back to the kernel as a comm message on the shell channel, and
that traffic racing the cell's execute reply left pages stuck at "Executing 5 of 8"
(about one load in ten with ipykernel 7).

In a static snapshot (``NBPROD_DASHBOARD_STATIC`` set, see
:mod:`nbprod.dashboards.snapshot`) there is no kernel behind the page, so only
the default choice is drawn, as HTML, and the picker is not shown.
"""

from __future__ import annotations

import base64
import html
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import pandas as pd

from nbprod.plots.figure import figure_png

CSS = """
<style>
.nbprod-headline{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:1.25rem;
  line-height:1.45;padding:.9rem 1.1rem;border-radius:8px;margin:.4rem 0 1rem 0;font-weight:500}
.nbprod-headline.good{background:#e3f5e6;color:#145a23;border:1px solid #9bd3a7}
.nbprod-headline.warn{background:#fff4e0;color:#7a4a00;border:1px solid #f2c27a}
.nbprod-headline.bad{background:#fde8e8;color:#8a1c1c;border:1px solid #f0a8a8}
.nbprod-headline.info{background:#e8f0fb;color:#17365d;border:1px solid #a9c2e6}
.nbprod-note{color:#555;font-size:.92rem;margin:.2rem 0 .6rem 0}
table.nbprod-table{border-collapse:collapse;font-size:.9rem;margin:.3rem 0 .8rem 0}
table.nbprod-table th,table.nbprod-table td{border:1px solid #ddd;padding:.3rem .55rem;text-align:left!important;
  vertical-align:top;max-width:36rem}
table.nbprod-table th{background:#f5f5f5}
table.nbprod-table td.num{text-align:right!important;font-variant-numeric:tabular-nums}
table.nbprod-table tr.hl td{background:#fff8d6}
img.nbprod-figure{max-width:100%;height:auto;display:block;margin:.3rem 0}
</style>
"""


#: Open captures, innermost last: while one is open the helpers append HTML to it instead of displaying.
_CAPTURES: list[list[str]] = []


def _display(obj: Any) -> None:
    from IPython.display import display

    display(obj)


def _show_html(fragment: str) -> None:
    """Display an HTML fragment, or add it to the innermost open capture."""
    if _CAPTURES:
        _CAPTURES[-1].append(fragment)
        return
    from IPython.display import HTML

    _display(HTML(fragment))


@contextmanager
def captured() -> Iterator[list[str]]:
    """Collect what the helpers show inside the ``with`` block as HTML fragments (nothing is displayed)."""
    fragments: list[str] = []
    _CAPTURES.append(fragments)
    try:
        yield fragments
    finally:
        _CAPTURES.pop()


def render_html(render: Callable[[Any], None], value: Any) -> str:
    """What ``render(value)`` shows, as one HTML string; an error becomes a plain message, not a traceback."""
    with captured() as fragments:
        try:
            render(value)
        except Exception as error:  # a reader sees a plain message
            failure("This view", error)
    return "".join(fragments)


def style() -> None:
    """Add the dashboards' CSS to the page (call once, at the top)."""
    _show_html(CSS)


def headline_html(text: str, tone: str = "info") -> str:
    """The headline box: escaped text in a ``div.nbprod-headline``."""
    return f'<div class="nbprod-headline {html.escape(tone)}">{html.escape(text)}</div>'


def headline(text: str, tone: str = "info") -> None:
    """Show the headline box (``tone``: info, good, warn or bad)."""
    _show_html(headline_html(text, tone))


def heading(text: str, level: int = 3) -> None:
    """A section heading (inside a picker's output, where Markdown cells cannot be)."""
    _show_html(f"<h{level}>{html.escape(text)}</h{level}>")


def note(text: str) -> None:
    """A short explanatory line in grey."""
    _show_html(f'<p class="nbprod-note">{html.escape(text)}</p>')


def figure(figure: Any, dpi: int = 100) -> None:
    """Show a matplotlib figure as a PNG image (no backend or pyplot state involved)."""
    png = figure_png(figure, dpi)
    if _CAPTURES:
        encoded = base64.b64encode(png).decode("ascii")
        _CAPTURES[-1].append(f'<img class="nbprod-figure" alt="figure" src="data:image/png;base64,{encoded}">')
        return
    from IPython.display import Image

    _display(Image(data=png, format="png"))


def _cell(value: Any, digits: int) -> tuple[str, bool]:
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return f"{value:,}", True
    if isinstance(value, float):
        if pd.isna(value):
            return "–", True
        return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:,.0f}", True
    if isinstance(value, pd.Timestamp):
        return ("–" if pd.isna(value) else value.strftime("%Y-%m-%d %H:%M")), False
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–", False
    return str(value), False


def table_html(frame: pd.DataFrame, digits: int = 3, highlight: Iterable[Any] = (),
               index: bool = True) -> str:
    """A compact HTML table: numbers right-aligned to ``digits`` significant digits, rows in
    ``highlight`` (index values) shaded."""
    marked = set(highlight)
    header = ([html.escape(str(frame.index.name or ""))] if index else []) + [html.escape(str(c)) for c in frame.columns]
    rows = []
    for key, row in frame.iterrows():
        cells = [f"<th>{html.escape(str(key))}</th>"] if index else []
        for value in row.tolist():
            text, numeric = _cell(value, digits)
            cells.append(f'<td class="num">{html.escape(text)}</td>' if numeric else f"<td>{html.escape(text)}</td>")
        rows.append(f'<tr class="hl">{"".join(cells)}</tr>' if key in marked else f"<tr>{''.join(cells)}</tr>")
    head = "".join(f"<th>{h}</th>" for h in header)
    return f'<table class="nbprod-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def table(frame: pd.DataFrame, digits: int = 3, highlight: Iterable[Any] = (), index: bool = True) -> None:
    """Show :func:`table_html`."""
    _show_html(table_html(frame, digits, highlight, index))


def failure(what: str, error: BaseException) -> None:
    """A plain message in place of a traceback: ``what`` could not be shown, and why in one line."""
    headline(f"{what} could not be shown: {type(error).__name__}: {error}", "bad")


def selector(description: str, options: Sequence[tuple[str, Any]] | Mapping[str, Any], value: Any,
             render: Callable[[Any], None], static: bool = False, hint: str = "", static_hint: str = "") -> Any:
    """A dropdown (label, value) over an HTML area drawn by ``render(value)``; returns the widget.

    ``render`` shows its content with the helpers of this module (captured as HTML,
    see :func:`render_html`). ``hint``: a note above the dropdown (``"Pick a window."``).
    ``static``: no dropdown; ``static_hint`` (``"Showing the latest window."``) then
    what ``render(value)`` shows, and None is returned (snapshots). Either way an error
    in ``render`` becomes a plain message.
    """
    if static:
        if static_hint:
            note(static_hint)
        content = render_html(render, value)
        if content:
            _show_html(content)
        return None
    if hint:
        note(hint)
    import ipywidgets as widgets

    choices = list(options.items()) if isinstance(options, Mapping) else list(options)
    dropdown = widgets.Dropdown(options=choices, value=value, description=description,
                                style={"description_width": "initial"},
                                layout=widgets.Layout(width="max-content", min_width="24rem"))
    content = widgets.HTML(value=render_html(render, value))
    content.add_class("nbprod-picked")

    def update(change: Mapping[str, Any]) -> None:
        content.value = render_html(render, change["new"])

    dropdown.observe(update, names="value")
    box = widgets.VBox([dropdown, content])
    _display(box)
    return box
