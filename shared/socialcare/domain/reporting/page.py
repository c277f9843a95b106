"""The report's HTML page: one file, its style inline, no script and nothing fetched.

Each section is a heading, what the chart means, the chart (inline SVG) and beside it a table
of the same numbers - a caption, column and row headers with ``scope`` - for screen readers,
for copying, and for anyone who prefers numbers. Hand-written rather than a template engine:
one page, a dozen elements, everything escaped with ``html.escape``.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from socialcare.domain.reporting.model import Number, Section, Series

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f4f5f7;color:#1a1a1a;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,
'Helvetica Neue',Arial,sans-serif}
header,main,footer{max-width:1280px;margin:0 auto;padding:0 24px}
header{padding-top:28px}
h1{font-size:28px;margin:0 0 4px}
.sub{color:#4a4a4a;margin:0 0 20px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;margin:0 0 28px;padding:0;
list-style:none}
.kpis li{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.kpis b{display:block;font-size:24px}
.kpis span{color:#4a4a4a;font-size:13px}
section{background:#fff;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.08);margin:0 0 24px;padding:20px 24px}
h2{font-size:20px;margin:0 0 4px}
.what{color:#4a4a4a;margin:0 0 12px;max-width:70em}
.pair{display:grid;grid-template-columns:minmax(0,3fr) minmax(260px,2fr);gap:20px;align-items:start}
.pair.wide{grid-template-columns:1fr}
.pair.wide figure{max-width:920px}
.pair.wide .numbers{max-height:300px}
@media (max-width:900px){.pair{grid-template-columns:1fr}}
figure{margin:0}
figure svg{width:100%;height:auto;display:block}
.numbers{max-height:420px;overflow:auto;border:1px solid #e2e4e8;border-radius:6px}
table{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:8px 10px;background:#fafbfc}
th,td{padding:4px 10px;border-bottom:1px solid #eceef1;text-align:right;white-space:nowrap}
th[scope=row],thead th:first-child{text-align:left}
thead th{position:sticky;top:0;background:#eef0f3}
tbody tr:nth-child(even){background:#fafbfc}
footer{color:#595959;font-size:13px;padding-bottom:32px}
"""


WIDE_COLUMNS = 2  # more columns than this: the table goes under its chart


def page(title: str, subtitle: str, kpis: Sequence[tuple[str, str]],
         sections: Sequence[tuple[Section, Series, str]]) -> str:
    """The whole HTML document: ``sections`` are (section, its series, its inline SVG)."""
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
        "<header>", f"<h1>{escape(title)}</h1>", f'<p class="sub">{escape(subtitle)}</p>',
        '<ul class="kpis">',
        *(f"<li><b>{escape(value)}</b><span>{escape(label)}</span></li>" for label, value in kpis),
        "</ul>", "</header>", "<main>",
        *(section_html(section, series, svg) for section, series, svg in sections),
        "</main>",
        "<footer><p>Counted as customers' messages, cases and replies arrived (UTC days). Each chart's numbers "
        "are in the table beside it and in its CSV file.</p></footer>",
        "</body>", "</html>",
    ]
    return "\n".join(parts) + "\n"


def section_html(section: Section, series: Series, svg: str) -> str:
    heading = f"{section.id}-title"
    # a table of many columns goes under its chart, full width, rather than beside it, squeezed
    layout = "pair wide" if len(series.columns()) > WIDE_COLUMNS else "pair"
    return "\n".join([
        f'<section id="{escape(section.id)}" aria-labelledby="{heading}" data-chart="{escape(section.chart)}">',
        f'<h2 id="{heading}">{escape(section.title)}</h2>',
        f'<p class="what">{escape(section.description)}</p>',
        f'<div class="{layout}">',
        f"<figure>{svg}</figure>",
        f'<div class="numbers" tabindex="0">{table_html(section, series)}</div>',
        "</div>", "</section>",
    ])


def table_html(section: Section, series: Series) -> str:
    columns = series.columns()
    unit = f" ({series.unit})" if series.unit else ""
    head = "".join(f'<th scope="col">{escape(name)}</th>' for name in columns)
    rows = []
    for index, label in enumerate(series.labels):
        cells = "".join(f"<td>{number(values[index], series.decimals)}</td>" for values in columns.values())
        rows.append(f'<tr><th scope="row">{escape(label)}</th>{cells}</tr>')
    if not rows:
        rows.append(f'<tr><td colspan="{len(columns) + 1}">{escape(section.empty)}</td></tr>')
    return (f'<table data-section="{escape(section.id)}"><caption>{escape(section.title)}{escape(unit)}</caption>'
            f'<thead><tr><th scope="col">{escape(series.axis)}</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def number(value: Number, decimals: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return escape(f"{value:,.{decimals}f}")
    return escape(f"{value:,}")
