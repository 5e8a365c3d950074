"""Medians over rounds, Portico/nginx ratios, the printed table and the JSON files."""

import json
import os
import shutil
import statistics
import time

# Per-round numbers summarised by their median across rounds.
MEDIAN_KEYS = ("rps", "cpu_s", "req_per_cpu_s", "p50_ms", "p99_ms", "wrk_cpu_pct")
# Per-round counts summed across rounds (errors are rare events: every one matters).
TOTAL_KEYS = ("socket_errors", "non_2xx_3xx")
# Ratios reported as Portico / nginx.
RATIO_KEYS = ("rps", "cpu_s", "req_per_cpu_s", "p50_ms", "p99_ms")
# Above this share of failed requests (socket errors and non-2xx/3xx answers) on either
# side, a point's ratios are withheld.
MAX_ERROR_SHARE = 0.05


def summarize(rounds):
    """Medians and totals of one server's valid rounds; None values are left out."""
    valid = [r for r in rounds if "rps" in r]
    summary = {"rounds_ok": len(valid), "rounds": len(rounds)}
    for key in MEDIAN_KEYS:
        values = [r[key] for r in valid if r.get(key) is not None]
        summary[key] = statistics.median(values) if values else None
    for key in TOTAL_KEYS:
        summary[key] = sum(r.get(key, 0) for r in valid)
    rps = [r["rps"] for r in valid]      # the spread tells how much to trust the median
    summary["rps_min"], summary["rps_max"] = (min(rps), max(rps)) if rps else (None, None)
    return summary


def error_share(rounds):
    """Failed requests (socket errors, non-2xx/3xx answers) over all requests of the rounds.

    wrk counts a timeout as a socket error but not as a request, so the errors are weighed
    against requests plus errors."""
    valid = [r for r in rounds if "rps" in r]
    failed = sum(r.get("socket_errors", 0) + r.get("non_2xx_3xx", 0) for r in valid)
    total = sum(r.get("requests", 0) + r.get("socket_errors", 0) for r in valid)
    return failed / total if total else 0.0


def ratios(portico, nginx):
    """Portico/nginx for each RATIO_KEYS; None where either side has no number."""
    out = {}
    for key in RATIO_KEYS:
        a, b = (portico or {}).get(key), (nginx or {}).get(key)
        out[key] = a / b if a is not None and b else None
    return out


# ---------------------------------------------------------------- table

COLUMNS = (("scenario", 19, "<"), ("conns", 6, ">"), ("server", 8, "<"), ("req/s", 10, ">"),
           ("cpu s", 7, ">"), ("req/cpu-s", 10, ">"), ("p50 ms", 8, ">"), ("p99 ms", 8, ">"),
           ("sock err", 9, ">"), ("non-2xx", 8, ">"), ("wrk cpu", 8, ">"))


def _row(cells):
    return "  ".join(f"{str(c):{align}{width}}" for c, (_, width, align) in zip(cells, COLUMNS))


def _num(value, digits=0):
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _ratio(value):
    return "-" if value is None else f"{value:.2f}x"


def _server_cells(side):
    """The numeric cells of one server, or its status word spanning the row."""
    if side["status"] != "ok":
        return [side["status"].upper()] + [""] * 7
    s = side["median"]
    wrk_cpu = "-" if s["wrk_cpu_pct"] is None else f"{s['wrk_cpu_pct']:.0f}%"
    return [_num(s["rps"]), _num(s["cpu_s"], 2), _num(s["req_per_cpu_s"]),
            _num(s["p50_ms"], 2), _num(s["p99_ms"], 2), s["socket_errors"], s["non_2xx_3xx"],
            wrk_cpu]


def table(points):
    """The results table: a row per server per point, then a Portico/nginx ratio row."""
    lines = [_row([name for name, _, _ in COLUMNS]), "-" * len(_row([""] * len(COLUMNS)))]
    for p in points:
        conns = p["conns"] if p["conns"] == p["conns_requested"] else f"{p['conns']}*"
        for i, label in enumerate(("portico", "nginx")):
            first = [p["scenario"], conns] if i == 0 else ["", ""]
            lines.append(_row(first + [label] + _server_cells(p["servers"][label])))
        r = p["ratios"]
        lines.append(_row(["", "", "P/N", _ratio(r.get("rps")), _ratio(r.get("cpu_s")),
                           _ratio(r.get("req_per_cpu_s")), _ratio(r.get("p50_ms")),
                           _ratio(r.get("p99_ms")), "", "", ""]))
    return "\n".join(lines)


def reasons(points):
    """One line per server that did not run a point normally, with why."""
    seen, lines = set(), []
    for p in points:
        if p.get("ratios_withheld"):
            lines.append(f"  {p['scenario']} c={p['conns']}: ratios withheld "
                         f"({p['ratios_withheld']})")
        for label, side in p["servers"].items():
            key = (p["scenario"], label, side.get("reason"))
            if side.get("reason") and key not in seen:
                seen.add(key)
                lines.append(f"  {p['scenario']}/{label}: {side['status']}: {side['reason']}")
    return lines


# ---------------------------------------------------------------- JSON

def write_json(doc, results_dir, stem="bench"):
    """Writes RESULTS/latest.json (STEM-latest.json for another stem) and a timestamped
    copy STEM-YYYYmmdd-HHMMSS.json; returns both paths."""
    os.makedirs(results_dir, exist_ok=True)
    latest = os.path.join(results_dir, "latest.json" if stem == "bench" else f"{stem}-latest.json")
    stamped = os.path.join(results_dir, time.strftime(f"{stem}-%Y%m%d-%H%M%S.json"))
    with open(latest, "w") as f:
        json.dump(doc, f, indent=2, sort_keys=False)
        f.write("\n")
    shutil.copyfile(latest, stamped)
    return latest, stamped
