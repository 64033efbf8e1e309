"""A small table model and its Markdown, LaTeX and HTML renderers.

Tables are built by :mod:`reports.tables` from tracked runs; this module only formats. A
numeric cell carries its value, an optional 95 % interval, a rank among its column (1 =
best, rendered bold; 2 = second, underlined) and a display precision.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field, replace

WIDE_TABLE_COLUMNS = 6  # more columns than this: scaled to the text width


@dataclass(frozen=True)
class Cell:
    """One table cell: text, or a number with an optional interval and rank."""

    value: float | None = None
    text: str | None = None
    lo: float | None = None
    hi: float | None = None
    rank: int | None = None
    digits: int = 2
    prefix: str = ""
    # A significance mark after the value (e.g. † / ‡, explained in the table's notes).
    mark: str = ""

    def plain(self) -> str:
        """The cell's content without emphasis."""
        if self.text is not None:
            return self.text
        if self.value is None or (isinstance(self.value, float) and math.isnan(self.value)):
            return "–"
        out = f"{self.prefix}{self.value:.{self.digits}f}"
        if self.lo is not None and self.hi is not None:
            ci = max(self.digits - 1, 0)  # one digit less: the interval is coarser
            out += f" [{self.lo:.{ci}f}, {self.hi:.{ci}f}]"
        return out + self.mark


@dataclass(frozen=True)
class Column:
    """A column: a group (spanning header, may be empty) and a label."""

    group: str
    label: str


@dataclass
class Table:
    """A titled table with a two-level header and notes printed under it."""

    title: str
    columns: list[Column]
    rows: list[list[Cell]]
    notes: list[str] = field(default_factory=list)
    label: str = ""


def rank_columns(
    rows: list[list[Cell]], columns: list[int], lower_is_better: bool = True
) -> list[list[Cell]]:
    """Rows with rank 1 / 2 set on the best and second-best numeric cell of each column.

    Ties share a rank (both bold); cells without a value are skipped; a column whose values
    are all equal (e.g. $0.00 for self-hosted models) has no best and stays plain.
    """
    out = [list(r) for r in rows]
    for j in columns:
        values = sorted(
            {
                c.value
                for r in out
                for c in [r[j]]
                if c.value is not None and not math.isnan(c.value)
            },
            reverse=not lower_is_better,
        )
        if len(values) < 2:
            continue
        for r in out:
            c = r[j]
            if c.value is None or math.isnan(c.value):
                continue
            rank = values.index(c.value) + 1 if values else None
            if rank is not None and rank <= 2:
                r[j] = replace(c, rank=rank)  # everything else kept, the mark included
    return out


def _groups(columns: list[Column]) -> list[tuple[str, int]]:
    spans: list[tuple[str, int]] = []
    for col in columns:
        if spans and spans[-1][0] == col.group and col.group:
            spans[-1] = (col.group, spans[-1][1] + 1)
        else:
            spans.append((col.group, 1))
    return spans


# -- Markdown --------------------------------------------------------------------------------
def _md_cell(cell: Cell) -> str:
    text = cell.plain().replace("|", "\\|")
    if cell.rank == 1:
        return f"**{text}**"
    if cell.rank == 2:
        return f"<u>{text}</u>"
    return text


def to_markdown(table: Table) -> str:
    """GitHub-flavoured Markdown (bold = best, <u>underline</u> = second)."""
    header = [f"{c.group} {c.label}".strip() for c in table.columns]
    lines = [f"### {table.title}", ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("| " + " | ".join("---" for _ in header) + " |")
    for row in table.rows:
        lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
    if table.notes:
        lines.append("")
        lines.extend(f"{note}  " for note in table.notes)
    return "\n".join(lines).rstrip() + "\n"


# -- LaTeX -----------------------------------------------------------------------------------
_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    return (
        "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)
        .replace("–", "--")
        .replace("×", r"$\times$")
    )


def _tex_cell(cell: Cell) -> str:
    text = latex_escape(cell.plain())
    if cell.rank == 1:
        return rf"\textbf{{{text}}}"
    if cell.rank == 2:
        return rf"\underline{{{text}}}"
    return text


def to_latex(table: Table) -> str:
    """A ``table`` environment with booktabs rules (``\\usepackage{booktabs}``; a wide table
    is scaled with ``\\resizebox`` from ``graphicx``)."""
    ncol = len(table.columns)
    # LaTeX numbers the caption itself ("Table 1: ..."): drop the title's own number.
    caption = re.sub(r"^Table \d+:\s*", "", table.title)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{latex_escape(caption)}}}",
    ]
    if table.label:
        lines.append(rf"\label{{{table.label}}}")
    # Wide tables (Table 1 has 14 columns) shrink to the text width instead of running off it.
    wide = ncol > WIDE_TABLE_COLUMNS
    if wide:
        lines.append(r"\resizebox{\linewidth}{!}{%")
    lines += [rf"\begin{{tabular}}{{{'l' * ncol}}}", r"\toprule"]
    spans = _groups(table.columns)
    if any(g for g, _ in spans):
        parts = []
        rules = []
        start = 1
        for group, span in spans:
            parts.append(
                rf"\multicolumn{{{span}}}{{c}}{{{latex_escape(group)}}}"
                if span > 1
                else latex_escape(group)
            )
            if group:
                rules.append(rf"\cmidrule(lr){{{start}-{start + span - 1}}}")
            start += span
        lines.append(" & ".join(parts) + r" \\")
        lines.append(" ".join(rules))
    lines.append(" & ".join(latex_escape(c.label) for c in table.columns) + r" \\")
    lines.append(r"\midrule")
    for row in table.rows:
        lines.append(" & ".join(_tex_cell(c) for c in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}" + ("}" if wide else "")]
    for note in table.notes:
        lines.append(rf"\par\smallskip{{\footnotesize {latex_escape(note)}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


# -- HTML ------------------------------------------------------------------------------------
def _html_cell(cell: Cell) -> str:
    text = html.escape(cell.plain())
    if cell.rank == 1:
        text = f"<b>{text}</b>"
    elif cell.rank == 2:
        text = f"<u>{text}</u>"
    return f"<td>{text}</td>"


def to_html(table: Table) -> str:
    """A self-contained ``<table>`` fragment (no scripts, no external styles)."""
    lines = [
        '<table class="routerlab">',
        f"<caption>{html.escape(table.title)}</caption>",
        "<thead>",
    ]
    spans = _groups(table.columns)
    if any(g for g, _ in spans):
        cells = "".join(
            f'<th colspan="{span}">{html.escape(group)}</th>'
            if span > 1
            else f"<th>{html.escape(group)}</th>"
            for group, span in spans
        )
        lines.append(f"<tr>{cells}</tr>")
    lines.append(
        "<tr>" + "".join(f"<th>{html.escape(c.label)}</th>" for c in table.columns) + "</tr>"
    )
    lines.append("</thead>")
    lines.append("<tbody>")
    for row in table.rows:
        lines.append("<tr>" + "".join(_html_cell(c) for c in row) + "</tr>")
    lines.append("</tbody>")
    if table.notes:
        lines.append("<tfoot>")
        for note in table.notes:
            lines.append(f'<tr><td colspan="{len(table.columns)}">{html.escape(note)}</td></tr>')
        lines.append("</tfoot>")
    lines.append("</table>")
    return "\n".join(lines) + "\n"


def html_page(title: str, fragments: list[str]) -> str:
    """A whole HTML page around table fragments and figure tags."""
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "td:first-child,td:nth-child(2){text-align:left}caption{font-weight:bold;text-align:left}"
        "tfoot td{font-size:small;text-align:left;color:#444}"
    )
    body = "\n".join(fragments)
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{style}</style></head>\n<body>\n<h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )
