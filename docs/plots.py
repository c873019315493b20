#!/usr/bin/env python3
"""Draws docs/throughput.svg and docs/memory.svg from a bench run, with no dependencies.

    cargo bench -p tlsbox-tests --bench tlsbox
    cargo run --release -p tlsbox-tests --example idle_rss | tee docs/idle_rss.txt
    python3 docs/plots.py

Throughput comes from criterion's saved estimates (target/criterion/bulk-*/<variant>/<label>);
memory from the idle_rss example's table (connections, RSS, per connection).
"""

import json
import math
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRITERION = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "criterion")
SIZES = [1435, 8087, 16384]
SUITES = ["chacha20", "aes128gcm", "aes256gcm"]
COLOURS = {"chacha20": "#1b7837", "aes128gcm": "#2166ac", "aes256gcm": "#b2182b"}


def estimate_ns(group, variant, label):
    """Nanoseconds per iteration, as the bench's ratio lines use (slope, else mean)."""
    path = os.path.join(CRITERION, group, variant, label, "new", "estimates.json")
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError:
        return None
    slope = data.get("slope") or {}
    return slope.get("point_estimate") or data["mean"]["point_estimate"]


def mib_per_s(group, variant, label):
    """Each bulk iteration moves 1 MiB."""
    ns = estimate_ns(group, variant, label)
    return None if ns is None else 1e9 / ns


def svg_plot(path, title, xlabel, ylabel, series, xlog=False, ylog=False):
    """A line chart: series is a list of (name, colour, dash, [(x, y), ...])."""
    width, height, left, right, top, bottom = 760, 440, 70, 220, 40, 50
    points = [p for _, _, _, pts in series for p in pts]
    if not points:
        print(f"no data for {path}", file=sys.stderr)
        return
    fx = (lambda v: math.log10(v)) if xlog else (lambda v: v)
    fy = (lambda v: math.log10(v)) if ylog else (lambda v: v)
    xs, ys = [fx(x) for x, _ in points], [fy(y) for _, y in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = (math.floor(min(ys)), math.ceil(max(ys))) if ylog else (0, max(ys) * 1.1)
    x1 = x1 if x1 > x0 else x0 + 1
    y1 = y1 if y1 > y0 else y0 + 1
    px = lambda v: left + (fx(v) - x0) / (x1 - x0) * (width - left - right)
    py = lambda v: height - bottom - (fy(v) - y0) / (y1 - y0) * (height - top - bottom)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="22" font-size="15">{title}</text>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="black"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="black"/>',
        f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle">{xlabel}</text>',
        f'<text x="16" y="{(top + height - bottom) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {(top + height - bottom) / 2})">{ylabel}</text>',
    ]
    for x in sorted({x for x, _ in points}):
        out.append(f'<text x="{px(x):.1f}" y="{height - bottom + 16}" text-anchor="middle">{x:,}</text>')
    ticks = [10**e for e in range(int(y0), int(y1) + 1)] if ylog else [y1 * i / 5 for i in range(6)]
    for t in ticks:
        y = py(t) if ylog else height - bottom - (t - y0) / (y1 - y0) * (height - top - bottom)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{t:,.0f}</text>')
    for i, (name, colour, dash, pts) in enumerate(series):
        pts = sorted(pts)
        line = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>')
        for x, y in pts:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>')
        ly = top + 10 + i * 18
        out.append(f'<line x1="{width - right + 12}" y1="{ly}" x2="{width - right + 40}" y2="{ly}" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>')
        out.append(f'<text x="{width - right + 46}" y="{ly + 4}">{name}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {os.path.relpath(path, ROOT)}")


def throughput_plot():
    series = []
    for suite in SUITES:
        for group, variant, name, dash in [
            ("bulk-send", "component", "send", ""),
            ("bulk-recv", "component", "recv", "2,3"),
            ("bulk-send", "native-ring", "native ring send", "8,4"),
        ]:
            pts = []
            for size in SIZES:
                rate = mib_per_s(group, variant, f"{suite}-{size}")
                if rate is not None:
                    pts.append((size, rate))
            if pts:
                series.append((f"{suite} {name}", COLOURS[suite], dash, pts))
    svg_plot(
        os.path.join(ROOT, "docs", "throughput.svg"),
        "Bulk throughput against record size (component vs native rustls + ring)",
        "record plaintext, bytes",
        "MiB/s (log)",
        series,
        ylog=True,
    )


def memory_plot(table):
    rows = []
    try:
        with open(table) as f:
            for line in f:
                m = re.match(r"\s*(\d+)\s+[\d.]+\s+([\d.]+) KiB\s+([\d.]+) KiB", line)
                if m:
                    rows.append((int(m.group(1)), float(m.group(2)), float(m.group(3))))
    except OSError:
        print(f"no {table}: run the idle_rss example first", file=sys.stderr)
        return
    svg_plot(
        os.path.join(ROOT, "docs", "memory.svg"),
        "Host memory per idle connection (tlsbox clients; the server is another process)",
        "idle connections (log)",
        "KiB per connection",
        [
            ("Rss growth per connection", "#5e3c99", "", [(n, rss) for n, rss, _ in rows]),
            ("Pss growth per connection", "#e66101", "2,3", [(n, pss) for n, _, pss in rows]),
        ],
        xlog=True,
    )


if __name__ == "__main__":
    throughput_plot()
    memory_plot(os.path.join(ROOT, "docs", "idle_rss.txt"))
