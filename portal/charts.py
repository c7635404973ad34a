"""Charts as inline SVG drawn on the server: no script, no CDN, readable offline and in a screenshot.

Values arrive as Decimal or int (money stays exact up to here); only the pixel geometry is computed in
floats. Every printed value, tick and label goes through ``portal.formatting`` (thousands separators,
fixed decimals). Every chart names its axes; a line chart has ticks on both, and a chart with fewer
than two points says why instead of drawing a lone dot.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

from portal import formatting as fmt

Number = Decimal | int | float

PALETTE = ("#2457a6", "#d9822b", "#2e8b57", "#b03a48", "#6b4c9a")
Y_TICKS = 5


def _exact(value: Number) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _fmt(value: Number) -> str:
    return fmt.number(_exact(value))


def _svg(title: str, width: int, height: int) -> list[str]:
    return [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="18" class="chart-title">{escape(title)}</text>',
    ]


def empty(title: str, reason: str) -> str:
    return f'<p class="muted chart-empty"><strong>{escape(title)}</strong>: {escape(reason)}</p>'


def bars(
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[Number]],
    value_label: str,
    category_label: str,
    width: int = 760,
    row: int = 22,
) -> str:
    """Horizontal grouped bars: one row per label, one bar per series; the value axis is labelled
    and ticked at the bottom."""
    names = list(series)
    top = max([abs(float(v)) for vals in series.values() for v in vals] + [1.0])
    label_w, value_w = 150, 150
    plot_w = width - label_w - value_w
    group_h = row * len(names) + 6
    height = 90 + group_h * len(labels) + 20 * len(names)
    parts = _svg(title, width, height)
    parts.append(f'<text x="0" y="36" class="axis-label">{escape(category_label)}</text>')
    y = 44
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
    parts.append(f'<line x1="{label_w}" y1="{y}" x2="{label_w + plot_w}" y2="{y}" class="axis"/>')
    places = 0 if top >= 100 else 2  # ticks of a small scale keep their fractions
    for k in range(Y_TICKS):
        x = label_w + plot_w * k / (Y_TICKS - 1)
        tick = _exact(top) * k / (Y_TICKS - 1)
        parts.append(
            f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 4}" class="axis"/>'
            f'<text x="{x:.1f}" y="{y + 16}" class="chart-value" text-anchor="middle">'
            f"{escape(fmt.amount(tick, places))}</text>"
        )
    parts.append(
        f'<text x="{label_w + plot_w / 2:.1f}" y="{y + 32}" class="axis-label" '
        f'text-anchor="middle">{escape(value_label)}</text>'
    )
    y += 40
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
    x_label: str,
    y_label: str,
    too_few: str,
    width: int = 760,
    height: int = 280,
    levels: dict[str, Number] | None = None,
) -> str:
    """Line chart over categorical x positions with labelled, ticked axes; ``levels`` draws labelled
    horizontal reference lines. Fewer than two x positions: ``too_few`` says why, instead."""
    values = [_exact(v) for vals in series.values() for v in vals if v is not None]
    values += [_exact(v) for v in (levels or {}).values()]
    if not values or len(xs) < 2:
        return empty(title, too_few)
    lo, hi = min(values), max(values)
    if hi == lo:
        hi, lo = hi + 1, lo - 1
    left, right, top, bottom = 110, 170, 34, 56
    pw, ph = width - left - right, height - top - bottom

    def px(i: int) -> float:
        return left + (pw * i / max(1, len(xs) - 1))

    def py(v: Number) -> float:
        return top + ph * float((hi - _exact(v)) / (hi - lo))

    parts = _svg(title, width, height)
    parts += [
        f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" class="axis"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" class="axis"/>',
        f'<text x="14" y="{top + ph / 2:.1f}" class="axis-label" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + ph / 2:.1f})">{escape(y_label)}</text>',
        f'<text x="{left + pw / 2:.1f}" y="{height - 6}" class="axis-label" '
        f'text-anchor="middle">{escape(x_label)}</text>',
    ]
    for k in range(Y_TICKS):
        tick = lo + (hi - lo) * k / (Y_TICKS - 1)
        y = py(tick)
        parts.append(
            f'<line x1="{left - 4}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" class="grid-line"/>'
            f'<text x="{left - 8}" y="{y + 4:.1f}" class="chart-value" text-anchor="end">'
            f"{escape(fmt.amount(tick))}</text>"
        )
    step = max(1, len(xs) // 8)
    for i in range(0, len(xs), step):
        parts.append(
            f'<line x1="{px(i):.1f}" y1="{top + ph}" x2="{px(i):.1f}" y2="{top + ph + 4}" class="axis"/>'
            f'<text x="{px(i):.1f}" y="{top + ph + 18}" class="chart-label" text-anchor="middle">'
            f"{escape(xs[i])}</text>"
        )
    for j, (name, level) in enumerate((levels or {}).items()):
        y = py(level)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" class="level level-{j}"/>'
            f'<text x="{left + pw + 6}" y="{y + 4:.1f}" class="chart-label">{escape(name)} {escape(_fmt(level))}</text>'
        )
    for j, (name, vals) in enumerate(series.items()):
        colour = PALETTE[j % len(PALETTE)]
        points = [(px(i), py(v), v) for i, v in enumerate(vals) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        for x, y, v in points:
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(name)}: '
                f"{escape(_fmt(v))}</title></circle>"
            )
        parts.append(
            f'<rect x="{left + pw + 6}" y="{top + 100 + j * 18}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + pw + 20}" y="{top + 109 + j * 18}" class="chart-label">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
