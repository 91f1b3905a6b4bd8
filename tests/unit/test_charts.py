"""The dashboard's SVG charts and the activity series they draw, pure."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from hookwire.dashboard.charts import HEIGHT, stacked_bars
from hookwire.domain.activity import Bucket, Health, series

SVG = "{http://www.w3.org/2000/svg}"


def test_series_fills_the_gaps_and_drops_what_is_outside() -> None:
    found = [Bucket(120, 3, 2, 1), Bucket(300, 1, 1, 0), Bucket(0, 9, 9, 0)]
    filled = series(found, 125, 60, 4)  # 120, 180, 240, 300
    assert [b.start for b in filled] == [120, 180, 240, 300]
    assert [b.attempts for b in filled] == [3, 0, 0, 1]
    assert Bucket(0, 5, 2, 1).failed == 2


def test_health_rate() -> None:
    assert Health().success_rate is None
    assert Health(4, 3).success_rate == 0.75


def test_bars_stack_in_proportion_with_a_tooltip_each() -> None:
    buckets = [Bucket(0, 4, 2, 1), Bucket(60), Bucket(120, 2, 2, 0)]
    svg = ET.fromstring(stacked_bars(buckets, 60, "Attempts <per> minute"))
    rects = {kind: [r for r in svg.iter(f"{SVG}rect") if r.get("class") == kind]
             for kind in ("succeeded", "retrying", "failed")}  # fmt: skip
    assert [len(rects[k]) for k in ("succeeded", "retrying", "failed")] == [2, 1, 1]
    heights = [float(r.get("height", 0)) for r in rects["succeeded"]]
    assert heights[0] == heights[1]  # 2 and 2: the same height
    tall = float(rects["failed"][0].get("height", 0))
    assert abs(heights[0] - 2 * tall) < 0.01  # 2 succeeded against 1 failed
    titles = [t.text or "" for t in svg.iter(f"{SVG}title")]
    assert titles[0] == "Attempts <per> minute"  # escaped in the markup, intact in the tree
    assert "2 succeeded, 1 retrying, 1 failed" in titles[1]
    assert len(titles) == 1 + len(buckets)


def test_an_empty_chart_draws_no_bars() -> None:
    svg = stacked_bars([Bucket(0), Bucket(60)], 60, "nothing")
    assert 'class="succeeded"' not in svg and re.search(r'viewBox="0 0 \d+ ' + str(HEIGHT), svg)
    assert stacked_bars([], 60, "none").endswith("</svg>")
