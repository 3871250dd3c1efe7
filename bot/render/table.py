"""Tables as aligned plain text and as HTML with every cell escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """Columns padded to their widest cell; align is one 'l' or 'r' per column (default left)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]

    def line(cells: Sequence[str]) -> str:
        parts = []
        for i, cell in enumerate(cells):
            right = i < len(align) and align[i] == "r"
            parts.append(str(cell).rjust(widths[i]) if right else str(cell).ljust(widths[i]))
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def html_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """Every header and cell is escaped: names come from users and agents."""

    def cell(tag: str, text: str, i: int) -> str:
        style = ' align="right"' if i < len(align) and align[i] == "r" else ""
        return f"<{tag}{style}>{escape(str(text))}</{tag}>"

    head = "".join(cell("th", h, i) for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", c, i) for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
