"""The table printer: one markdown table, its columns padded so that it reads in a terminal as
it reads in ``benchmarks/results.md``."""

from __future__ import annotations

import numbers
from collections.abc import Sequence


class Table:
    """Rows under named columns, printed as a markdown table.

    Args:
        columns: each a name, or ``(name, format)`` with a :meth:`str.format` field such as
            ``"{:.2f}"`` or ``"{:.0%}"`` for that column's numbers. Without a format a float
            shows 4 significant digits, None shows ``-``, anything else ``str``.
        title: a line printed (and logged) above the table, or None.
    """

    def __init__(self, *columns: str | tuple[str, str], title: str | None = None):
        self.names = [escaped(c if isinstance(c, str) else c[0]) for c in columns]
        self.formats = [None if isinstance(c, str) else c[1] for c in columns]
        self.title = title
        self.rows: list[list[str]] = []

    def add(self, *values) -> str:
        """Append a row, one value per column (in order).

        Returns:
            The row as printed (for a script that shows rows as they come).

        Raises:
            ValueError: when the count of values is not the count of columns.
        """
        if len(values) != len(self.names):
            raise ValueError(f"{len(values)} values for {len(self.names)} columns")
        self.rows.append([escaped(cell(v, f)) for v, f in zip(values, self.formats)])
        return "| " + " | ".join(self.rows[-1]) + " |"

    def lines(self) -> list[str]:
        """The table as markdown lines, columns padded to their widest cell."""
        widths = [max([len(n)] + [len(r[i]) for r in self.rows]) for i, n in enumerate(self.names)]
        out = [] if self.title is None else [self.title, ""]
        out.append(_line(self.names, widths))
        out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        out += [_line(row, widths) for row in self.rows]
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def cell(value, fmt: str | None = None) -> str:
    """A value as shown in a table (see :class:`Table`)."""
    if value is None:
        return "-"
    if fmt is not None and isinstance(value, numbers.Real):
        return fmt.format(value)
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return f"{value:.4g}"
    return str(value)


def escaped(text: str) -> str:
    """A cell's text with its ``|`` escaped, so that it stays one cell."""
    return text.replace("|", "\\|")


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
