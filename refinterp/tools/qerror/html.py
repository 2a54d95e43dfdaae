"""The report as one self-contained HTML file: the header, the plot, the table (SQNR cells coloured), the notes.

No external CSS, scripts or images: the plot is embedded as a base64 ``data:`` URI, so the file can be
mailed or attached to a CI run and opened anywhere. Every piece of text is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from pathlib import Path

from refinterp.tools.qerror.analysis import QErrorReport
from refinterp.tools.qerror.text import header_lines, summary_lines, table_rows

HTML_LEGEND = (
    "e = dequantized int8 value - float reference value, pooled over all elements of all cases. "
    "RMSE and max|e| in real units; LSB = RMSE / scale (ideal rounding alone gives 0.29); mean e = bias; "
    "SQNR = 10 log10(sum ref^2 / sum e^2); cos = cosine similarity; sat% = values at the integer type's "
    "limits that are not an activation bound; clip% = values at the activation's bound (e.g. fused-ReLU "
    "floor). own SQNR / own LSB: the same layer fed the quantized float-reference inputs (--isolate); "
    "own% = isolated MSE / accumulated MSE. SQNR cells: red below 10 dB, orange 10-20, yellow 20-30, "
    "green 30 and above."
)

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; }
pre.header { background: #f6f8fa; padding: 0.6em 0.8em; border-radius: 4px; }
table { border-collapse: collapse; font-size: 12px; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; white-space: nowrap; }
th { background: #f0f0f0; position: sticky; top: 0; }
td.text { text-align: left; }
p.legend { font-size: 12px; color: #555; max-width: 70em; }
ul.notes { font-size: 13px; }
img.plot { max-width: 100%; border: 1px solid #ddd; margin: 1em 0; }
"""


def render_report(title: str, header_lines: Sequence[str], columns: Sequence[str], rows: Sequence[Sequence[str]],
                  cell_styles: Sequence[dict[int, str]] | None = None, png: bytes | None = None,
                  notes: Sequence[str] = (), legend: str = "", text_columns: Sequence[int] | None = None) -> str:
    """An HTML document: title, header block, optional plot, table (with per-cell inline styles), notes.

    ``text_columns`` are left-aligned (default: every column whose cells are not all numbers).
    """
    esc = html.escape
    if text_columns is None:
        text_columns = [i for i in range(len(columns)) if not all(_is_number(r[i]) for r in rows if r[i])]
    text_set = set(text_columns)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f'<pre class="header">{esc(chr(10).join(header_lines))}</pre>',
    ]
    if png is not None:
        encoded = base64.b64encode(png).decode("ascii")
        parts.append(f'<img class="plot" alt="per-layer plot" src="data:image/png;base64,{encoded}">')
    if legend:
        parts.append(f'<p class="legend">{esc(legend)}</p>')
    parts.append("<table><thead><tr>" + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr></thead><tbody>")
    for r, row in enumerate(rows):
        styles = cell_styles[r] if cell_styles is not None and r < len(cell_styles) else {}
        cells = []
        for i, cell in enumerate(row):
            attributes = ' class="text"' if i in text_set else ""
            if styles.get(i):
                attributes += f' style="{esc(styles[i])}"'
            cells.append(f"<td{attributes}>{esc(cell)}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def report_html(report: QErrorReport, png: bytes | None, plot_note: str = "") -> str:
    """The report's HTML page; ``png`` is the plot (None: none, and ``plot_note`` says why)."""
    columns, rows = table_rows(report)
    sqnr_column = columns.index("SQNR dB")
    cell_styles = [{sqnr_column: sqnr_style(row.metrics()["sqnr_db"])} for row in report.rows]
    return render_report(
        title=f"refinterp qerror: {Path(report.int8_model).name}",
        header_lines=header_lines(report),
        columns=columns,
        rows=rows,
        cell_styles=cell_styles,
        png=png,
        notes=summary_lines(report) + report.notes + ([plot_note] if plot_note else []),
        legend=HTML_LEGEND,
    )


def sqnr_style(sqnr: float | None) -> str:
    """The background of an SQNR cell: red below 10 dB, orange below 20, yellow below 30, green above."""
    if sqnr is None:
        return ""
    if sqnr == math.inf:
        return "background:#e8f5e9"
    if sqnr < 10:
        return "background:#ffcdd2"
    if sqnr < 20:
        return "background:#ffe0b2"
    if sqnr < 30:
        return "background:#fff9c4"
    return "background:#e8f5e9"
