"""Formulas for people: one line of plain text, or HTML with the formulas as mathematics.

Results of :mod:`lossbook.convexity` print as plain text in the book's notation (``ŷ``,
``σ²``, ``max(0, 1 - z)²``: never ``**`` nor a LaTeX macro) and render in a notebook and on
the book's pages as HTML whose formulas MathJax typesets (the pages render a notebook's
Markdown output as CommonMark, which does not parse ``$…$``). :class:`Table` does the same
for a small table of text and SymPy expressions.

>>> from lossbook.notation import z
>>> show(sp.Max(0, 1 - z) ** 2)
'max(0, 1 - z)²'
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import sympy as sp
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from lossbook.notation import plain

__all__ = ["Table", "math_html", "say", "show"]


_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


class _TextPrinter(StrPrinter):
    """Plain text in the book's notation: ŷ and σ², max and |·|, powers as superscripts."""

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return plain(expr)

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, k = expr.args
        if k.is_Rational and k < 0 and k != -1:
            return "1/" + self.parenthesize(base ** (-k), PRECEDENCE["Mul"], strict=True)
        if k.is_Integer and k > 1:
            return self.parenthesize(base, PRECEDENCE["Pow"], strict=True) + str(k).translate(_SUPERSCRIPT)
        if k.is_Integer or abs(k) == sp.S.Half:
            return super()._print_Pow(expr, rational)
        exponent = self.parenthesize(k, PRECEDENCE["Pow"], strict=True)
        return f"{self.parenthesize(base, PRECEDENCE['Pow'], strict=True)}^{exponent}"

    def _print_Max(self, expr: sp.Max) -> str:
        return f"max({', '.join(self._print(a) for a in expr.args)})"

    def _print_Min(self, expr: sp.Min) -> str:
        return f"min({', '.join(self._print(a) for a in expr.args)})"

    def _print_Equality(self, expr: sp.Eq) -> str:
        return f"{self._print(expr.lhs)} = {self._print(expr.rhs)}"

    def _print_Abs(self, expr: sp.Abs) -> str:
        return f"|{self._print(expr.args[0])}|"


def show(expr: Any) -> str:
    """``expr`` as plain text: ``max(0, 1 - z)²``, never ``**`` or a LaTeX macro."""
    return _TextPrinter(settings={"order": None}).doprint(sp.sympify(expr))


def math_html(latex: str) -> str:
    """Inline mathematics in HTML, typeset by MathJax in a notebook and on the book's pages."""
    return rf'<span class="math notranslate nohighlight">\({html.escape(latex)}\)</span>'


def say(*parts: Any) -> tuple[str, str]:
    """Plain text and HTML (formulas as mathematics) of prose strings and SymPy pieces."""
    text = "".join(p if isinstance(p, str) else show(p) for p in parts)
    markup = "".join(html.escape(p) if isinstance(p, str) else math_html(sp.latex(p)) for p in parts)
    return text, markup


@dataclass(frozen=True)
class Table:
    """A small table of text and SymPy expressions: aligned plain text when printed, an HTML
    table with the expressions as mathematics in a notebook and on the book's pages.

    >>> from lossbook.notation import z
    >>> print(Table(("loss", "second derivative"), (("exponential", sp.exp(-z)), ("square", 2 * z**0))))
    loss         second derivative
    exponential  exp(-z)
    square       2
    >>> Table(("a", "b"), (("only one",),))
    Traceback (most recent call last):
    ...
    ValueError: rows must have 2 cells each, like header; row 0 has 1
    """

    header: tuple[Any, ...]
    rows: tuple[tuple[Any, ...], ...]

    def __post_init__(self) -> None:
        if not isinstance(self.header, (tuple, list)) or not self.header:
            raise TypeError(f"header must be a non-empty tuple of cells, got {self.header!r}")
        for i, row in enumerate(self.rows):
            if not isinstance(row, (tuple, list)) or len(row) != len(self.header):
                got = len(row) if isinstance(row, (tuple, list)) else type(row).__name__
                raise ValueError(
                    f"rows must have {len(self.header)} cells each, like header; row {i} has {got}"
                )

    @staticmethod
    def _cell(value: Any) -> tuple[str, str]:
        return say(value) if isinstance(value, (str, sp.Basic)) else say(str(value))

    def __str__(self) -> str:
        cells = [[self._cell(c)[0] for c in row] for row in (self.header, *self.rows)]
        widths = [max(len(row[j]) for row in cells) for j in range(len(self.header))]
        return "\n".join(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        pad = 'style="padding: 0.2em 0.5em"'  # compact, so three columns fit a phone's width
        head = "".join(f"<th {pad}>{self._cell(c)[1]}</th>" for c in self.header)
        cells = ("".join(f"<td {pad}>{self._cell(c)[1]}</td>" for c in row) for row in self.rows)
        body = "".join(f"<tr>{row}</tr>" for row in cells)
        return f'<table class="table" style="width: auto; font-size: 0.85em"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
