"""Functions compiled from the field table, as `collections.namedtuple` and `dataclasses` compile theirs.

On the hot paths (`record()`, the writer's check and row of each event) a function written out field by field
costs one call; a loop over the table costs one step per field. So those functions are generated from the
table once, at import: each field is used by its name, and a field added to the table is in them at once.
The source is built from our own tables, never from input.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def compile_function(name: str, params: Iterable[str], body: Iterable[str], namespace: Mapping[str, Any] | None = None,
                     doc: str | None = None) -> Callable[..., Any]:  # fmt: skip
    """``def name(params): body`` (one statement a line), its globals ``namespace``; ``source`` holds its text."""
    lines = [f"def {name}({', '.join(params)}):", *(f"    {line}" for line in ([repr(doc)] if doc else [])),
             *(f"    {line}" for line in body)]  # fmt: skip
    source = "\n".join(lines) + "\n"
    scope: dict[str, Any] = {"_INF": math.inf, **(namespace or {})}
    exec(source, scope)
    function = scope[name]
    function.source = source
    return function  # type: ignore[no-any-return]


def compile_predicate(name: str, params: Iterable[str], terms: Iterable[str]) -> Callable[..., bool]:
    """A function of ``params`` (called positionally, e.g. with a named tuple's values) returning the
    conjunction of ``terms``: a check on the writer's hot path costs one expression, not a call per field."""
    return compile_function(name, params, [f"return {' and '.join(terms) or 'True'}"])
