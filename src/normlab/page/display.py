"""One HTML table for chapter cells and demo widgets alike."""

from __future__ import annotations

import html
from typing import Any


def table_html(header: list[str], rows: list[list], caption: str = "") -> str:
    """An HTML table of escaped text; a tuple (a shape) is shown as code, e.g. ``(2, 8, 10, 10)``."""

    def cell(value: object) -> str:
        if isinstance(value, tuple):
            return f"<code>{html.escape(str(value))}</code>"
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    cap = f"<caption style='caption-side:bottom'>{html.escape(caption)}</caption>" if caption else ""
    return f'<table class="table normlab-table">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def html_table(header: list[str], rows: list[list], caption: str = "") -> Any:
    """The same table as a cell's output (rendered by myst-nb and JupyterLab alike)."""
    from IPython.display import HTML

    return HTML(table_html(header, rows, caption))
