"""A chart drawn as inline SVG on the server: one bar per bucket for the median and a mark for
the 95th percentile, so the page needs no JavaScript library. Every text is escaped."""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup, escape

from serbero.ops.web.charts import Chart

WIDTH, HEIGHT = 720, 220
LEFT, BOTTOM, TOP = 64, 28, 12


def duration(seconds: float | None) -> str:
    """A duration for people: 240 ms, 4.2 s, 12 min, 3.5 h, 2.1 d."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86_400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"


def _when(ts: int, window_s: int) -> str:
    fmt = "%H:%M" if window_s <= 86_400 else "%m-%d"
    return datetime.fromtimestamp(ts, UTC).strftime(fmt)


def render(chart: Chart) -> Markup:
    peak = max((b.p95 or 0 for b in chart.buckets), default=0) or 1.0
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    step = plot_w / max(1, len(chart.buckets))
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(chart.series.title)}: median and 95th percentile per bucket"
             "</title>"]
    for frac in (0, 0.5, 1):
        y = TOP + plot_h * (1 - frac)
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - 8}" '
                     f'y2="{y:.1f}"/><text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{escape(duration(peak * frac))}</text>')
    window_s = chart.until - chart.since
    for i, bucket in enumerate(chart.buckets):
        x = LEFT + i * step
        if bucket.p50 is not None:
            h = plot_h * bucket.p50 / peak
            parts.append(f'<rect class="p50" x="{x + 1:.1f}" y="{TOP + plot_h - h:.1f}" '
                         f'width="{max(1, step - 2):.1f}" height="{h:.1f}"><title>'
                         f"{escape(_when(bucket.start, window_s))}: {bucket.count} disputes, "
                         f"median {escape(duration(bucket.p50))}, p95 "
                         f"{escape(duration(bucket.p95))}</title></rect>")
        if bucket.p95 is not None:
            y = TOP + plot_h * (1 - bucket.p95 / peak)
            parts.append(f'<line class="p95" x1="{x + 1:.1f}" y1="{y:.1f}" '
                         f'x2="{x + step - 1:.1f}" y2="{y:.1f}"/>')
        if i % 6 == 0:
            parts.append(f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 8}">'
                         f"{escape(_when(bucket.start, window_s))}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
