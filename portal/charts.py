"""Charts as inline SVG drawn on the server: no script, no CDN, readable offline and in a screenshot.

Values arrive as Decimal or int (money stays exact up to here); only the pixel geometry is computed in
floats, and every label prints the exact value.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

Number = Decimal | int | float

PALETTE = ("#2457a6", "#d9822b", "#2e8b57", "#b03a48", "#6b4c9a")


def _fmt(value: Number) -> str:
    if isinstance(value, Decimal):
        return f"{value:,f}"
    return f"{value:,}"


def bars(
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[Number]],
    width: int = 760,
    row: int = 22,
) -> str:
    """Horizontal grouped bars: one row per label, one bar per series."""
    names = list(series)
    top = max([abs(float(v)) for vals in series.values() for v in vals] + [1.0])
    label_w, value_w = 150, 150
    plot_w = width - label_w - value_w
    group_h = row * len(names) + 6
    height = 40 + group_h * len(labels) + 20 * len(names)
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="18" class="chart-title">{escape(title)}</text>',
    ]
    y = 32
    for i, label in enumerate(labels):
        parts.append(f'<text x="0" y="{y + row - 7}" class="chart-label">{escape(label)}</text>')
        for j, name in enumerate(names):
            value = series[name][i]
            w = max(1.0, plot_w * abs(float(value)) / top)
            parts.append(
                f'<rect x="{label_w}" y="{y + j * row}" width="{w:.1f}" height="{row - 4}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(label)} {escape(name)}: '
                f"{escape(_fmt(value))}</title></rect>"
                f'<text x="{label_w + w + 4:.1f}" y="{y + j * row + row - 8}" class="chart-value">'
                f"{escape(_fmt(value))}</text>"
            )
        y += group_h
    for j, name in enumerate(names):
        parts.append(
            f'<rect x="0" y="{y + 4 + j * 20}" width="12" height="12" fill="{PALETTE[j % len(PALETTE)]}"/>'
            f'<text x="18" y="{y + 14 + j * 20}" class="chart-label">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def lines(
    title: str,
    xs: Sequence[str],
    series: dict[str, Sequence[Number | None]],
    width: int = 760,
    height: int = 260,
    levels: dict[str, Number] | None = None,
) -> str:
    """Line chart over categorical x positions; ``levels`` draws labelled horizontal reference lines."""
    values = [float(v) for vals in series.values() for v in vals if v is not None]
    values += [float(v) for v in (levels or {}).values()]
    if not values or not xs:
        return f'<p class="muted">{escape(title)}: no data.</p>'
    lo, hi = min(values), max(values)
    if hi == lo:
        hi, lo = hi + 1, lo - 1
    left, right, top, bottom = 70, 160, 30, 40
    pw, ph = width - left - right, height - top - bottom

    def px(i: int) -> float:
        return left + (pw * i / max(1, len(xs) - 1))

    def py(v: float) -> float:
        return top + ph * (hi - v) / (hi - lo)

    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="18" class="chart-title">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" class="axis"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" class="axis"/>',
        f'<text x="{left - 6}" y="{top + 4}" class="chart-value" text-anchor="end">{hi:,.6g}</text>',
        f'<text x="{left - 6}" y="{top + ph}" class="chart-value" text-anchor="end">{lo:,.6g}</text>',
    ]
    step = max(1, len(xs) // 8)
    for i in range(0, len(xs), step):
        parts.append(
            f'<text x="{px(i):.1f}" y="{height - 18}" class="chart-label" text-anchor="middle">{escape(xs[i])}</text>'
        )
    for j, (name, level) in enumerate((levels or {}).items()):
        y = py(float(level))
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" class="level level-{j}"/>'
            f'<text x="{left + pw + 6}" y="{y + 4:.1f}" class="chart-label">{escape(name)} {escape(_fmt(level))}</text>'
        )
    for j, (name, vals) in enumerate(series.items()):
        colour = PALETTE[j % len(PALETTE)]
        points = [(px(i), py(float(v)), v) for i, v in enumerate(vals) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        for x, y, v in points:
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"><title>{escape(name)}: '
                f"{escape(_fmt(v))}</title></circle>"
            )
        parts.append(
            f'<rect x="{left + pw + 6}" y="{top + 100 + j * 18}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + pw + 20}" y="{top + 109 + j * 18}" class="chart-label">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
