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


ELLIPSIS = "…"


def elided(names: Sequence[str], width: int) -> list[str]:
    """Names cut to `width` by an ellipsis, in their middle if that keeps them apart (an id keeps its start
    and its server), else where it does; the width grows only when no cut at that width tells them apart."""
    width = max(width, 3)
    while True:
        splits = [(width - 1 + 1) // 2, *range(width - 1, -1, -1)]  # the middle first, then every other place
        for head in splits:
            shown = [_cut(name, width, head) for name in names]
            if len(set(shown)) == len(set(names)):
                return shown
        width += 1


def _cut(name: str, width: int, head: int) -> str:
    if len(name) <= width:
        return name
    return name[:head] + ELLIPSIS + name[len(name) - (width - 1 - head):]


def fitted_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str, width: int) -> str:
    """`plain_table` whose first column (names) is elided so the table fits `width` characters, as far as the
    other columns leave room and the names stay told apart."""
    table = plain_table(headers, rows, align)
    widest = max(len(line) for line in table.splitlines())
    if widest <= width:
        return table
    first = max(len(str(row[0])) for row in [headers, *rows])
    names = elided([str(row[0]) for row in rows], max(len(headers[0]), first - (widest - width)))
    return plain_table(headers, [[name, *row[1:]] for name, row in zip(names, rows, strict=True)], align)


def html_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """Every header and cell is escaped: names come from users and agents."""

    def cell(tag: str, text: str, i: int) -> str:
        style = ' align="right"' if i < len(align) and align[i] == "r" else ""
        return f"<{tag}{style}>{escape(str(text))}</{tag}>"

    head = "".join(cell("th", h, i) for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", c, i) for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
