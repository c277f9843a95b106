"""A section's ``Series`` as an inline SVG chart, drawn by pygal with no JavaScript at all.

pygal's own tooltips need its JavaScript from a CDN: ``js=[]`` loads none, and the small
configuration script pygal still writes for them is removed from the tree (``_without_scripts``),
so the SVG is static, self-contained and readable by any browser, mail client or PDF printer.
The numbers stay in the SVG (each mark's ``<desc class="value">``) and in the table beside it.
"""

from __future__ import annotations

import math
from typing import Any
from xml.etree import ElementTree

import pygal
from pygal.style import Style

from socialcare.domain.reporting.model import Section, Series

PALETTE = ("#0072B2", "#D55E00", "#007A5A", "#6A3D9A", "#B8488F", "#8C564B", "#117A7A", "#9A6A00", "#222222")
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
WIDTH, HEIGHT = 760, 400
MAX_X_LABELS = 16  # more labels than this: only every n-th is written (all stay in the table)
LEGEND_COLUMNS = 4  # series in one row under the chart

_KINDS: dict[str, Any] = {
    "stacked_bar": pygal.StackedBar, "bar": pygal.Bar, "line": pygal.Line,
    "horizontal_bar": pygal.HorizontalBar, "dot": pygal.Dot,
}


def style(colors: tuple[str, ...]) -> Style:
    return Style(
        background="#ffffff", plot_background="#ffffff", foreground="#1a1a1a", foreground_strong="#000000",
        foreground_subtle="#595959", colors=colors, font_family=FONT, label_font_family=FONT,
        major_label_font_family=FONT, legend_font_family=FONT, title_font_family=FONT, value_font_family=FONT,
        tooltip_font_family=FONT, no_data_font_family=FONT, label_font_size=12, major_label_font_size=12,
        legend_font_size=13, no_data_font_size=20, opacity="0.9", opacity_hover="1", guide_stroke_color="#d0d0d0",
        major_guide_stroke_color="#b0b0b0", stroke_width="2.5", transition="0ms",
    )


def colors_for(section: Section, names: list[str]) -> tuple[str, ...]:
    spare = iter(c for c in PALETTE if c not in section.colors.values())
    return tuple(section.colors.get(name) or next(spare, "#595959") for name in names)


def chart(section: Section, series: Series) -> Any:
    """The pygal chart object of a section (configured, not rendered)."""
    names = list(series.values)
    kind = _KINDS[section.chart]
    many = len(series.labels) > MAX_X_LABELS
    horizontal = section.chart == "horizontal_bar"
    # a few series: a legend under the chart; more (channels): a column on its right, which
    # pygal sizes for any number of entries (its bottom legend clips a second row under rotated labels)
    bottom = len(names) <= LEGEND_COLUMNS
    config: dict[str, Any] = dict(
        js=[], disable_xml_declaration=True, width=WIDTH + (0 if bottom else 110),
        height=HEIGHT + (14 * len(series.labels) if horizontal else 0),
        style=style(colors_for(section, names)), legend_at_bottom=bottom, legend_at_bottom_columns=len(names) or 1,
        truncate_legend=-1, truncate_label=-1, print_values=False, include_x_axis=True, show_x_guides=False,
        no_data_text=section.empty,
        x_label_rotation=35 if (many or _long(series)) and not horizontal else 0,
        y_title=None if horizontal else series.unit or None, x_title=series.unit if horizontal else None,
        margin_bottom=10, spacing=12,
        value_formatter=lambda value: _number(value, series.decimals), dots_size=3,
    )
    if many:
        config.update(show_minor_x_labels=False, x_labels_major_every=math.ceil(len(series.labels) / MAX_X_LABELS))
    if section.chart == "dot":
        config.update(y_title=None, show_y_guides=False)
    graph = kind(**config)
    # pygal stacks a horizontal chart's first label at the bottom: reversed, the largest
    # (first) is on top, as in the table
    order = list(reversed(range(len(series.labels)))) if horizontal else list(range(len(series.labels)))
    graph.x_labels = [series.labels[i] for i in order]
    for name in names:
        graph.add(name, [series.values[name][i] for i in order], secondary=name in series.secondary)
    return graph


def _long(series: Series) -> bool:
    return any(len(label) > 14 for label in series.labels) and len(series.labels) > 4


def _number(value: Any, decimals: int = 1) -> str:
    if value is None:
        return ""
    return f"{value:,.{decimals}f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"


def svg(section: Section, series: Series) -> str:
    """The chart as one inline ``<svg>`` element (no XML declaration, no script)."""
    tree = chart(section, series).render_tree()
    _without_scripts(tree)
    tree.set("role", "img")
    tree.set("aria-label", f"{section.title}: chart; the table beside it holds its numbers")
    return ElementTree.tostring(tree, encoding="unicode")


def _without_scripts(tree: Any) -> None:
    # pygal writes a configuration <script> for its tooltip JavaScript even with js=[]: nothing
    # reads it once no JavaScript is loaded, and the page promises to need none. Its comments
    # (links to pygal's site) go too: the page refers to nothing outside itself.
    for parent in tree.iter():
        for child in list(parent):
            if child.tag is ElementTree.Comment or (
                    isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "script"):
                parent.remove(child)
