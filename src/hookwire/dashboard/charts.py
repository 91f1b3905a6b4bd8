"""Delivery charts drawn on the server as SVG: one stacked bar per time bucket, succeeded at
the bottom, then retrying, then failed. No script: a hover shows each bar's counts (``<title>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import Final

from hookwire.domain.activity import Bucket

WIDTH: Final = 720
HEIGHT: Final = 160
LEFT: Final = 36  # room for the y-axis labels
BOTTOM: Final = 18  # room for the x-axis labels
COLOURS: Final = {"succeeded": "#2e9e5b", "retrying": "#e0a526", "failed": "#d64545"}


def _label(start: int, width_s: int) -> str:
    moment = datetime.fromtimestamp(start, UTC)
    return moment.strftime("%H:%M" if width_s < 86400 else "%m-%d")


def _bar(x: float, bar_w: float, bucket: Bucket, scale: float, width_s: int) -> list[str]:
    base = HEIGHT - BOTTOM
    parts, y = [], float(base)
    for kind, count in (("succeeded", bucket.succeeded), ("retrying", bucket.retrying),
                        ("failed", bucket.failed)):  # fmt: skip
        if count <= 0:
            continue
        h = count * scale
        y -= h
        parts.append(
            f'<rect class="{kind}" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}"'
            f' fill="{COLOURS[kind]}"/>'
        )
    tip = (
        f"{_label(bucket.start, width_s)} UTC: {bucket.succeeded} succeeded, "
        f"{bucket.retrying} retrying, {bucket.failed} failed"
    )
    hit = f'<rect x="{x:.1f}" y="0" width="{bar_w:.1f}" height="{base}" fill="transparent">'
    return [*parts, f"{hit}<title>{escape(tip)}</title></rect>"]


def stacked_bars(buckets: Sequence[Bucket], width_s: int, title: str) -> str:
    """An SVG document of ``buckets`` (consecutive, ``width_s`` seconds each)."""
    peak = max((b.attempts for b in buckets), default=0)
    scale = (HEIGHT - BOTTOM - 8) / peak if peak else 0.0
    slot = (WIDTH - LEFT) / max(len(buckets), 1)
    bar_w = max(slot - 1, 1.0)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
        f' class="chart" aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH}" y2="{HEIGHT - BOTTOM}"'
        ' stroke="#999"/>',
        f'<text x="{LEFT - 4}" y="12" text-anchor="end" class="axis">{peak}</text>',
        f'<text x="{LEFT - 4}" y="{HEIGHT - BOTTOM}" text-anchor="end" class="axis">0</text>',
    ]
    for n, bucket in enumerate(buckets):
        out += _bar(LEFT + n * slot, bar_w, bucket, scale, width_s)
    ticks = ((0, "start"), (len(buckets) // 2, "middle"), (len(buckets) - 1, "end"))
    for n, anchor in ticks if buckets else ():
        x = LEFT + n * slot + (bar_w if anchor == "end" else 0)
        out.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 4}" text-anchor="{anchor}" class="axis">'
            f"{_label(buckets[n].start, width_s)}</text>"
        )
    out.append("</svg>")
    return "".join(out)
