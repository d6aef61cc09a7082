"""The evaluation's pictures as SVG text, written by hand with the standard library.

`curve_svg` draws a curve on the unit square (ROC: false positive rate -> true positive rate,
with the chance diagonal; precision-recall: recall -> precision); `confusion_svg` draws the 2x2
confusion matrix as shaded cells with their counts. Each returns a complete SVG document that
browsers, GitHub and VS Code's Markdown preview show as an image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 340, 340
LEFT, TOP, SIZE = 60, 40, 250  # the plot area: a SIZE x SIZE square at (LEFT, TOP)
MAX_POINTS = 600  # longer curves are thinned (the first and last points are kept)
TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)
FONT = 'font-family="sans-serif" font-size="12"'
GRID = 'stroke="#e5e5e5"'


def _points(xs: Sequence[float], ys: Sequence[float]) -> list[tuple[float, float]]:
    """The curve's points, each coordinate a finite number in [0, 1]; ValueError otherwise."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError(
            f"a curve needs two lists of the same length, at least 2 points; got {len(xs)}, {len(ys)}"
        )
    points = []
    for x, y in zip(xs, ys, strict=True):
        if (
            isinstance(x, bool)
            or isinstance(y, bool)
            or not isinstance(x, int | float)
            or not isinstance(y, int | float)
        ):
            raise ValueError(f"curve point ({x!r}, {y!r}) is not two numbers")
        if not (math.isfinite(x) and math.isfinite(y) and 0 <= x <= 1 and 0 <= y <= 1):
            raise ValueError(f"curve point ({x}, {y}) is outside [0, 1]")
        points.append((float(x), float(y)))
    if len(points) > MAX_POINTS:
        step = (len(points) - 1) / (MAX_POINTS - 1)
        points = [points[round(i * step)] for i in range(MAX_POINTS)]
    return points


def _x(value: float) -> float:
    return LEFT + value * SIZE


def _y(value: float) -> float:
    return TOP + (1 - value) * SIZE


def _document(title: str, body: list[str]) -> str:
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
            f"<title>{escape(title)}</title>",
            f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
            f'<text x="{LEFT + SIZE / 2:.0f}" y="22" text-anchor="middle" {FONT} font-weight="bold">'
            f"{escape(title)}</text>",
            *body,
            "</svg>",
            "",
        ]
    )


def curve_svg(
    title: str, xs: Sequence[float], ys: Sequence[float], x_label: str, y_label: str, diagonal: bool
) -> str:
    """A curve through (xs[i], ys[i]) on the unit square; ValueError for anything else."""
    points = _points(xs, ys)
    body = []
    for tick in TICKS:
        body += [
            f'<line x1="{_x(tick):.1f}" y1="{TOP}" x2="{_x(tick):.1f}" y2="{TOP + SIZE}" {GRID}/>',
            f'<line x1="{LEFT}" y1="{_y(tick):.1f}" x2="{LEFT + SIZE}" y2="{_y(tick):.1f}" {GRID}/>',
            f'<text x="{_x(tick):.1f}" y="{TOP + SIZE + 16}" text-anchor="middle" {FONT}>{tick:g}</text>',
            f'<text x="{LEFT - 6}" y="{_y(tick) + 4:.1f}" text-anchor="end" {FONT}>{tick:g}</text>',
        ]
    body.append(f'<rect x="{LEFT}" y="{TOP}" width="{SIZE}" height="{SIZE}" fill="none" stroke="#444"/>')
    if diagonal:
        body.append(
            f'<line x1="{_x(0)}" y1="{_y(0)}" x2="{_x(1)}" y2="{_y(1)}" stroke="#999" '
            'stroke-dasharray="4 4"/>'
        )
    path = " ".join(f"{_x(x):.2f},{_y(y):.2f}" for x, y in points)
    body += [
        f'<polyline points="{path}" fill="none" stroke="#1f77b4" stroke-width="2"/>',
        f'<text x="{LEFT + SIZE / 2}" y="{TOP + SIZE + 34}" text-anchor="middle" {FONT}>'
        f"{escape(x_label)}</text>",
        f'<text x="16" y="{TOP + SIZE / 2}" text-anchor="middle" {FONT} '
        f'transform="rotate(-90 16 {TOP + SIZE / 2})">{escape(y_label)}</text>',
    ]
    return _document(title, body)


def confusion_svg(title: str, counts: Sequence[Sequence[int]], labels: Sequence[str]) -> str:
    """The 2x2 matrix counts[actual][predicted] as shaded cells (darker: more rows) with counts."""
    total = sum(sum(row) for row in counts) or 1
    cell = SIZE / 2
    body = []
    for actual in (0, 1):
        for predicted in (0, 1):
            count = counts[actual][predicted]
            share = count / total
            shade = round(255 - 180 * share)
            x, y = LEFT + predicted * cell, TOP + actual * cell
            ink = "white" if share > 0.5 else "black"
            body += [
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{cell:.1f}" height="{cell:.1f}" '
                f'fill="rgb({shade},{shade},255)" stroke="#444"/>',
                f'<text x="{x + cell / 2:.1f}" y="{y + cell / 2 + 6:.1f}" text-anchor="middle" '
                f'font-family="sans-serif" font-size="20" fill="{ink}">{count}</text>',
            ]
        body.append(
            f'<text x="{LEFT - 6}" y="{TOP + actual * cell + cell / 2 + 4:.1f}" text-anchor="end" {FONT}>'
            f"{escape(labels[actual])}</text>"
        )
    for predicted in (0, 1):
        body.append(
            f'<text x="{LEFT + predicted * cell + cell / 2:.1f}" y="{TOP + SIZE + 16}" text-anchor="middle" '
            f"{FONT}>{escape(labels[predicted])}</text>"
        )
    body += [
        f'<text x="{LEFT + SIZE / 2}" y="{TOP + SIZE + 34}" text-anchor="middle" {FONT}>predicted</text>',
        f'<text x="14" y="{TOP + SIZE / 2}" text-anchor="middle" {FONT} '
        f'transform="rotate(-90 14 {TOP + SIZE / 2})">actual</text>',
    ]
    return _document(title, body)
