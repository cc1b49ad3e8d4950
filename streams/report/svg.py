"""Hand-written inline SVG for the run report: line charts, stacked areas and a chain diagram.

No plotting library and nothing external: each function returns one ``<svg>`` element as text, to be
inlined in the HTML page (no ``xmlns``: HTML5 does not need it, and the page holds no URL at all).
All text is escaped here. Data values are integers (money in minor units); coordinates are computed
in integer tenths of a pixel, so no float ever touches an amount, not even on its way to the screen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from html import escape
from typing import Final

WIDTH: Final = 960
HEIGHT: Final = 340
_LEFT: Final = 84
_RIGHT: Final = 24
_BOTTOM: Final = 48
_TITLE_H: Final = 30
_LEGEND_ROW: Final = 20
_CHAR_W: Final = 7  # approximate advance of a 12px sans-serif character, for laying out the legend
_MAX_POINTS: Final = 1_200  # longer series are thinned (every k-th day, the last one kept)
_LABEL_CHARS: Final = 40
GRID: Final = "#e3e6ea"
AXIS: Final = "#5b6470"
INK: Final = "#1f2933"


def _n(tenths: int) -> str:
    """A coordinate held in tenths of a pixel, as SVG text."""
    sign = "-" if tenths < 0 else ""
    whole, rest = divmod(abs(tenths), 10)
    return f"{sign}{whole}.{rest}" if rest else f"{sign}{whole}"


def _px(pixels: int) -> int:
    return pixels * 10


def shorten(text: str, limit: int = _LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def nice_step(span: int, target: int = 5) -> int:
    """The 1-2-5 x 10^k step that cuts ``span`` into about ``target`` intervals (at least 1)."""
    raw = max(1, -(-span // target))
    magnitude = 1
    while magnitude * 10 <= raw:
        magnitude *= 10
    for multiple in (1, 2, 5):
        if multiple * magnitude >= raw:
            return multiple * magnitude
    return 10 * magnitude


def nice_range(low: int, high: int, target: int = 5) -> tuple[int, int, int]:
    """``(low', high', step)``: the range widened to whole steps (never empty)."""
    if high <= low:
        high = low + 1
    step = nice_step(high - low, target)
    return (low // step) * step, -(-high // step) * step, step


@dataclass(frozen=True)
class Axis:
    label: str
    tick: Callable[[int], str]


@dataclass(frozen=True)
class Line:
    label: str
    color: str
    points: Sequence[tuple[int, int]]  # (x, y), x ascending
    dashed: bool = False


@dataclass(frozen=True)
class Band:
    label: str
    color: str
    values: Sequence[int]  # one value per x = 0, 1, 2, ...


@dataclass(frozen=True)
class Box:
    lines: tuple[str, ...]  # the first is the title line, drawn bold
    tooltip: str
    highlight: bool = False
    muted: bool = False


class _Frame:
    """Title, legend, grid, ticks and axis labels around a plot area mapping data to pixels."""

    def __init__(
        self,
        title: str,
        legend: Sequence[tuple[str, str, bool]],
        *,
        x_range: tuple[int, int],
        y_range: tuple[int, int],
        x_axis: Axis,
        y_axis: Axis,
        zero_based: bool,
    ) -> None:
        self.title = title
        self.x_axis = x_axis
        self.y_axis = y_axis
        self.legend = _legend_layout(legend, WIDTH - _LEFT - _RIGHT)
        rows = 1 + max((row for row, _, _ in self.legend), default=0)
        self.top = _TITLE_H + rows * _LEGEND_ROW + 12
        self.height = HEIGHT + rows * _LEGEND_ROW
        self.x_lo, self.x_hi = x_range[0], max(x_range[1], x_range[0] + 1)
        self.x_step = nice_step(self.x_hi - self.x_lo, 10)
        low, high = y_range
        if zero_based:
            low, high = min(low, 0), max(high, 0)
        self.y_lo, self.y_hi, self.y_step = nice_range(low, high)
        self.plot_w = WIDTH - _LEFT - _RIGHT
        self.plot_h = self.height - self.top - _BOTTOM

    def x(self, value: int) -> int:
        return _px(_LEFT) + (value - self.x_lo) * _px(self.plot_w) // (self.x_hi - self.x_lo)

    def y(self, value: int) -> int:
        return _px(self.top) + (self.y_hi - value) * _px(self.plot_h) // (self.y_hi - self.y_lo)

    def open(self) -> list[str]:
        out = [
            f'<svg class="chart" viewBox="0 0 {WIDTH} {self.height}" width="{WIDTH}" height="{self.height}" '
            f'role="img" aria-label="{escape(self.title)}" font-family="system-ui, sans-serif" font-size="12">',
            f"<title>{escape(self.title)}</title>",
            f'<text x="{_LEFT}" y="20" font-size="15" font-weight="600" fill="{INK}">{escape(self.title)}</text>',
        ]
        for row, offset, (label, color, dashed) in self.legend:
            x, y = _LEFT + offset, _TITLE_H + row * _LEGEND_ROW + 10
            dash = ' stroke-dasharray="5 3"' if dashed else ""
            out.append(
                f'<line x1="{x}" y1="{y}" x2="{x + 18}" y2="{y}" stroke="{color}" stroke-width="6"{dash}/>'
                f'<text x="{x + 24}" y="{y + 4}" fill="{INK}">{escape(label)}</text>'
            )
        left, right = _px(_LEFT), _px(_LEFT + self.plot_w)
        top, bottom = _px(self.top), _px(self.top + self.plot_h)
        for value in range(self.y_lo, self.y_hi + 1, self.y_step):
            tick_y = _n(self.y(value))
            out.append(f'<line x1="{_n(left)}" y1="{tick_y}" x2="{_n(right)}" y2="{tick_y}" stroke="{GRID}"/>')
            out.append(
                f'<text x="{_LEFT - 8}" y="{tick_y}" dy="4" text-anchor="end" fill="{AXIS}">'
                f"{escape(self.y_axis.tick(value))}</text>"
            )
        first_tick = -(-self.x_lo // self.x_step) * self.x_step
        for value in range(first_tick, self.x_hi + 1, self.x_step):
            tick_x = _n(self.x(value))
            out.append(f'<line x1="{tick_x}" y1="{_n(bottom)}" x2="{tick_x}" y2="{_n(bottom + 50)}" stroke="{AXIS}"/>')
            out.append(
                f'<text x="{tick_x}" y="{_n(bottom + 190)}" text-anchor="middle" fill="{AXIS}">'
                f"{escape(self.x_axis.tick(value))}</text>"
            )
        out.append(
            f'<polyline points="{_n(left)},{_n(top)} {_n(left)},{_n(bottom)} {_n(right)},{_n(bottom)}" '
            f'fill="none" stroke="{AXIS}"/>'
        )
        middle_x = _LEFT + self.plot_w // 2
        middle_y = self.top + self.plot_h // 2
        out.append(
            f'<text x="{middle_x}" y="{self.height - 8}" text-anchor="middle" fill="{AXIS}">'
            f"{escape(self.x_axis.label)}</text>"
        )
        out.append(
            f'<text x="16" y="{middle_y}" text-anchor="middle" fill="{AXIS}" '
            f'transform="rotate(-90 16 {middle_y})">{escape(self.y_axis.label)}</text>'
        )
        return out


def _legend_layout(items: Sequence[tuple[str, str, bool]], width: int) -> list[tuple[int, int, tuple[str, str, bool]]]:
    """(row, x offset, item) for each legend entry, wrapping to a new row when one is full."""
    placed: list[tuple[int, int, tuple[str, str, bool]]] = []
    row = offset = 0
    for label, color, dashed in items:
        size = 24 + len(label) * _CHAR_W + 20
        if offset and offset + size > width:
            row, offset = row + 1, 0
        placed.append((row, offset, (shorten(label), color, dashed)))
        offset += size
    return placed


def _thin(points: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    if len(points) <= _MAX_POINTS:
        return list(points)
    stride = -(-len(points) // _MAX_POINTS)
    kept = list(points[::stride])
    if kept[-1] != points[-1]:
        kept.append(points[-1])
    return kept


def line_chart(title: str, lines: Sequence[Line], x_axis: Axis, y_axis: Axis, *, zero_based: bool = True) -> str:
    """Lines over a shared x axis; the y axis starts at 0 unless ``zero_based`` is False."""
    xs = [x for line in lines for x, _ in line.points]
    if xs and min(xs) == max(xs):  # a single day: hold each value for one day rather than show a dot
        lines = [replace(line, points=[*line.points, (xs[0] + 1, line.points[-1][1])]) for line in lines if line.points]
        xs.append(xs[0] + 1)
    ys = [y for line in lines for _, y in line.points]
    frame = _Frame(
        title,
        [(line.label, line.color, line.dashed) for line in lines],
        x_range=(min(xs, default=0), max(xs, default=1)),
        y_range=(min(ys, default=0), max(ys, default=1)),
        x_axis=x_axis,
        y_axis=y_axis,
        zero_based=zero_based,
    )
    out = frame.open()
    for line in lines:
        points = _thin(line.points)
        if not points:
            continue
        coords = " ".join(f"{_n(frame.x(x))},{_n(frame.y(y))}" for x, y in points)
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        out.append(
            f'<polyline points="{coords}" fill="none" stroke="{line.color}" stroke-width="2.5" '
            f'stroke-linejoin="round"{dash}><title>{escape(line.label)}</title></polyline>'
        )
        x, y = points[-1]
        out.append(f'<circle cx="{_n(frame.x(x))}" cy="{_n(frame.y(y))}" r="3.5" fill="{line.color}"/>')
    out.append("</svg>")
    return "\n".join(out)


def stacked_chart(title: str, bands: Sequence[Band], x_axis: Axis, y_axis: Axis) -> str:
    """Bands stacked bottom-up (first band at the bottom); x is the index of a value (a day)."""
    length = max((len(band.values) for band in bands), default=0)
    # one day alone would be a zero-width area: draw it as a day-long plateau
    columns = [list(band.values) * 2 if length == 1 else list(band.values) for band in bands]
    length = max(2, length)
    totals = [sum(column[x] for column in columns if x < len(column)) for x in range(length)]
    frame = _Frame(
        title,
        [(band.label, band.color, False) for band in reversed(bands)],  # legend reads top-down like the stack
        x_range=(0, length - 1),
        y_range=(0, max(totals, default=1)),
        x_axis=x_axis,
        y_axis=y_axis,
        zero_based=True,
    )
    out = frame.open()
    below = [0] * length
    for band, column in zip(bands, columns, strict=True):
        above = [below[x] + (column[x] if x < len(column) else 0) for x in range(length)]
        xs = [x for x, _ in _thin(list(enumerate(above)))]
        upper = " ".join(f"{_n(frame.x(x))},{_n(frame.y(above[x]))}" for x in xs)
        lower = " ".join(f"{_n(frame.x(x))},{_n(frame.y(below[x]))}" for x in reversed(xs))
        out.append(
            f'<polygon points="{upper} {lower}" fill="{band.color}" fill-opacity="0.85" stroke="{band.color}" '
            f'stroke-width="1"><title>{escape(band.label)}</title></polygon>'
        )
        below = above
    out.append("</svg>")
    return "\n".join(out)


_BOX_W: Final = 212
_BOX_H: Final = 84
_BOX_GAP: Final = 24
_ROW_GAP: Final = 40
_PAD: Final = 20


def chain_diagram(title: str, boxes: Sequence[Box], marker_id: str) -> str:
    """Boxes joined by arrows, left to right, wrapping onto new rows (``marker_id`` must be unique in
    the page: SVG ids are document-wide)."""
    per_row = max(1, (WIDTH - 2 * _PAD + _BOX_GAP) // (_BOX_W + _BOX_GAP))
    rows = max(1, -(-len(boxes) // per_row))
    top = _TITLE_H + 16
    height = top + rows * (_BOX_H + _ROW_GAP) + _PAD - _ROW_GAP + 10
    marker = escape(marker_id)
    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-label="{escape(title)}" font-family="system-ui, sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{AXIS}"/></marker></defs>',
        f'<text x="{_PAD}" y="20" font-size="15" font-weight="600" fill="{INK}">{escape(title)}</text>',
    ]

    def origin(index: int) -> tuple[int, int]:
        row, column = divmod(index, per_row)
        return _PAD + column * (_BOX_W + _BOX_GAP), top + row * (_BOX_H + _ROW_GAP)

    for index, box in enumerate(boxes):
        x, y = origin(index)
        fill = "#f1f3f5" if box.muted else "#ffffff"
        stroke = "#1f6feb" if box.highlight else ("#9aa3ad" if box.muted else AXIS)
        width = 3 if box.highlight else 1
        dash = ' stroke-dasharray="5 3"' if box.muted else ""
        out.append(f"<g><title>{escape(box.tooltip)}</title>")
        out.append(
            f'<rect x="{x}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" rx="8" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="{width}"{dash}/>'
        )
        for line_no, text in enumerate(box.lines):
            weight = ' font-weight="600"' if line_no == 0 else ""
            colour = INK if line_no == 0 else AXIS
            out.append(
                f'<text x="{x + 12}" y="{y + 21 + line_no * 17}" fill="{colour}"{weight}>'
                f"{escape(shorten(text, 24 if line_no == 0 else 30))}</text>"
            )
        out.append("</g>")
        if index + 1 < len(boxes):
            nx, ny = origin(index + 1)
            if ny == y:
                path = f"M{x + _BOX_W},{y + _BOX_H // 2} L{nx - 2},{ny + _BOX_H // 2}"
            else:
                mid, here, there = y + _BOX_H + _ROW_GAP // 2, x + _BOX_W // 2, nx + _BOX_W // 2
                path = f"M{here},{y + _BOX_H} L{here},{mid} L{there},{mid} L{there},{ny - 2}"
            out.append(f'<path d="{path}" fill="none" stroke="{AXIS}" stroke-width="1.5" marker-end="url(#{marker})"/>')
    out.append("</svg>")
    return "\n".join(out)
