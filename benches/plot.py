#!/usr/bin/env python3
"""Plots a bench.py result: req/s (top row) and requests per server-CPU-second (bottom row)
against connections, Portico and nginx, one column per scenario.

Uses matplotlib when it imports (pip install matplotlib) and writes a PNG; otherwise it
writes the same charts as a plain SVG with the standard library only.

    python3 benches/plot.py [benches/results/latest.json] [-o OUT.png]
"""

import argparse
import importlib.util
import json
import math
import os
import sys
from html import escape

BENCHES = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCHES)
from harness import report  # noqa: E402
SERVERS = ("portico", "nginx")
COLORS = {"portico": "#d9480f", "nginx": "#1c7ed6"}
METRICS = (("rps", "req/s"), ("req_per_cpu_s", "req per server-CPU-s"))


def series(doc):
    """{scenario: {server: {metric: [(conns, value), ...]}}} from a result document.

    A server's point is left out where it failed more than report.MAX_ERROR_SHARE of its
    requests: its req/s counted errors, not answers."""
    out = {}
    for point in doc["points"]:
        per_server = out.setdefault(point["scenario"], {s: {} for s in SERVERS})
        for server in SERVERS:
            side = point["servers"].get(server, {})
            if side.get("status") != "ok":
                continue
            if report.error_share(side.get("rounds", [])) > report.MAX_ERROR_SHARE:
                continue
            for key, _ in METRICS:
                value = side["median"].get(key)
                if value is not None:
                    per_server[server].setdefault(key, []).append((point["conns"], value))
    return out


def _title(doc):
    m = doc.get("meta", {})
    return (f"Portico vs nginx — {m.get('cpus', '?')} CPUs, worker_processes "
            f"{m.get('workers', '?')}, {m.get('rounds', '?')}×{m.get('duration_s', '?')}s, "
            f"{m.get('finished', '')}")


# ---------------------------------------------------------------- matplotlib

def plot_matplotlib(doc, data, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = max(1, len(data))
    fig, axes = plt.subplots(len(METRICS), cols, figsize=(4 * cols, 6.5), squeeze=False)
    for col, (scenario, per_server) in enumerate(data.items()):
        for row, (key, label) in enumerate(METRICS):
            ax = axes[row][col]
            for server in SERVERS:
                points = sorted(per_server[server].get(key, []))
                if points:
                    ax.plot(*zip(*points), marker="o", label=server, color=COLORS[server])
            ax.set_xscale("log")
            ax.set_xlabel("connections")
            ax.set_ylabel(label)
            ax.set_ylim(bottom=0)
            ax.grid(True, alpha=0.3)
            if row == 0:
                ax.set_title(scenario)
            ax.legend(fontsize="small")
    fig.suptitle(_title(doc), fontsize="medium")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


# ---------------------------------------------------------------- SVG fallback

CELL_W, CELL_H, PAD = 320, 220, 50


def plot_svg(doc, data, out):
    """The same grid of charts as plain SVG: axes, polylines, a few labels."""
    cols = max(1, len(data))
    width, height = cols * CELL_W, len(METRICS) * CELL_H + 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11">',
             '<rect width="100%" height="100%" fill="white"/>',
             f'<text x="10" y="20" font-size="13">{escape(_title(doc))}</text>']
    for col, (scenario, per_server) in enumerate(data.items()):
        for row, (key, label) in enumerate(METRICS):
            x0, y0 = col * CELL_W, 40 + row * CELL_H
            parts += _svg_chart(x0, y0, f"{scenario}: {label}", per_server, key)
    parts.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(parts) + "\n")


def _svg_chart(x0, y0, title, per_server, key):
    """One chart: log-x connections, linear-y value from 0, a line per server."""
    points = {s: sorted(per_server[s].get(key, [])) for s in SERVERS}
    all_pts = [p for pts in points.values() for p in pts]
    left, top = x0 + PAD, y0 + 25
    w, h = CELL_W - PAD - 15, CELL_H - 60
    parts = [f'<text x="{x0 + PAD}" y="{y0 + 15}">{escape(title)}</text>',
             f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#999"/>']
    if not all_pts:
        return parts + [f'<text x="{left + 10}" y="{top + h / 2}">no data</text>']
    xs = [math.log10(c) for c, _ in all_pts]
    xmin, xmax = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    ymax = max(v for _, v in all_pts) * 1.1 or 1

    def at(c, v):
        return (left + (math.log10(c) - xmin) / (xmax - xmin) * w, top + h - v / ymax * h)

    parts.append(f'<text x="{x0 + 2}" y="{top + 8}">{ymax:,.0f}</text>')
    for c in sorted({c for c, _ in all_pts}):
        x, _ = at(c, 0)
        parts.append(f'<text x="{x - 10}" y="{top + h + 14}">{c}</text>')
    for i, server in enumerate(SERVERS):
        if points[server]:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in (at(c, v) for c, v in points[server]))
            parts.append(f'<polyline points="{coords}" fill="none" stroke-width="2" '
                         f'stroke="{COLORS[server]}"/>')
        parts.append(f'<text x="{left + w - 60}" y="{top + 14 + 13 * i}" '
                     f'fill="{COLORS[server]}">{server}</text>')
    return parts


# ---------------------------------------------------------------- main

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("json", nargs="?", default=os.path.join(BENCHES, "results", "latest.json"))
    p.add_argument("-o", "--out", help="output file (default: the JSON's name with .png, "
                   "or .svg without matplotlib)")
    p.add_argument("--svg", action="store_true", help="write the SVG even with matplotlib")
    args = p.parse_args(argv)
    with open(args.json) as f:
        doc = json.load(f)
    data = series(doc)
    base = os.path.splitext(args.json)[0]
    if args.svg or importlib.util.find_spec("matplotlib") is None:
        out = args.out or base + ".svg"
        plot_svg(doc, data, out)
        if not args.svg:
            print("matplotlib not importable: wrote a plain SVG instead "
                  "(pip install matplotlib for a PNG)")
    else:
        out = args.out or base + ".png"
        plot_matplotlib(doc, data, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
