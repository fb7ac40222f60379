"""Turn outcomes into numbers, a terminal table, markdown, CSV and a chart."""

import csv
import math
import statistics

COLUMNS = [
    ("config", "config"),
    ("min", "min ms"),
    ("mean", "mean ms"),
    ("median", "median ms"),
    ("p95", "p95 ms"),
    ("p99", "p99 ms"),
    ("max", "max ms"),
    ("failed", "failed"),
    ("rps", "req/s"),
    ("rss", "peak RSS MiB"),
    ("threads", "peak threads"),
    ("waiting", "threads mid-wait"),
    ("recovery", "answers again after s"),
    ("spread", "spread"),
]
# The figure a workload is judged by, whose spread over the runs is shown.
HEADLINE = {"max": "max ms", "rps": "req/s", "recovery": "s"}


def percentile(ordered, share):
    """Nearest-rank percentile of an ordered list."""
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


def summarize(outcome):
    """The latency figures (ms), failures and requests per second of one run."""
    ordered = sorted(seconds * 1000 for seconds in outcome.latencies)
    row = {"failed": outcome.failed, "rps": len(ordered) / outcome.elapsed}
    if ordered:
        row.update(
            min=ordered[0],
            mean=statistics.fmean(ordered),
            median=statistics.median(ordered),
            p95=percentile(ordered, 0.95),
            p99=percentile(ordered, 0.99),
            max=ordered[-1],
        )
    return row


def headline(row):
    if "recovery" in row:
        return "recovery"
    return "max" if row["floor"] else "rps"


def medians(rows):
    """One row per config and workload: each figure the median of its runs,
    and `spread` the lowest and highest run of the headline figure."""
    groups = {}
    for row in rows:
        groups.setdefault((row["config"], row["workload"]), []).append(row)
    merged = []
    for runs in groups.values():
        row = dict(runs[0])
        row.pop("round", None)
        for key in {key for run in runs for key in run}:
            values = [run[key] for run in runs if isinstance(run.get(key), int | float)]
            if values and key not in ("floor", "round"):
                # Failures are not averaged away: the worst run's count.
                pick = max if key == "failed" else statistics.median
                row[key] = pick(values)
        notes = dict.fromkeys(run["note"] for run in runs if run["note"])
        row["note"] = "; ".join(notes)
        key = headline(row)
        values = [run[key] for run in runs if run.get(key) is not None]
        if len(runs) > 1 and values:
            low, high = cell({key: min(values)}, key), cell({key: max(values)}, key)
            row["spread"] = f"{low}-{high} {HEADLINE[key]} ({len(values)} runs)"
        merged.append(row)
    return merged


def cell(row, key):
    value = row.get(key)
    if value is None:
        return "-"
    if key == "recovery":
        return f"{value:.2f}"
    if isinstance(value, float):
        return f"{value:.1f}" if key in ("rps", "rss") else f"{value:.0f}"
    return str(value)


def by_workload(rows):
    groups = {}
    for row in rows:
        groups.setdefault(row["workload"], []).append(row)
    return groups


def text_table(rows):
    """One block per workload, the configs as rows, like ab's summary."""
    lines = []
    for workload, group in by_workload(rows).items():
        floor = group[0]["floor"] * 1000
        lines.append(f"\n{workload}  (a request can take no less than {floor:.0f} ms)")
        table = [[title for _, title in COLUMNS]]
        table += [[cell(row, key) for key, _ in COLUMNS] for row in group]
        widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
        for line in table:
            first = line[0].ljust(widths[0])
            rest = [
                value.rjust(width)
                for value, width in zip(line[1:], widths[1:], strict=True)
            ]
            lines.append("  ".join([first, *rest]))
        lines.extend(
            f"  {row['config']}: {row['note']}" for row in group if row["note"]
        )
    return "\n".join(lines)


def markdown(rows, meta, warnings):
    out = ["# Benchmark results", ""]
    out += [f"- {key}: {value}" for key, value in meta.items()]
    out += [f"- **warning**: {warning}" for warning in warnings]
    for workload, group in by_workload(rows).items():
        floor = group[0]["floor"] * 1000
        out += [
            "",
            f"## {workload}",
            "",
            f"A request can take no less than {floor:.0f} ms.",
            "",
        ]
        out.append("| " + " | ".join(title for _, title in COLUMNS) + " | note |")
        out.append("|" + " --- |" * (len(COLUMNS) + 1))
        for row in group:
            cells = [cell(row, key) for key, _ in COLUMNS] + [row["note"] or ""]
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def write_csv(rows, path):
    keys = ["workload", "floor", *(key for key, _ in COLUMNS), "note"]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def write_chart(rows, path, title):
    """Per workload, each config's median latency (bar) and max (dot); for the
    throughput run, requests per second. Skipped configs are named, empty."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = by_workload(rows)
    fig, axes = plt.subplots(len(groups), 1, figsize=(10, 2.7 * len(groups)))
    axes = list(getattr(axes, "flat", [axes]))
    for axis, (workload, group) in zip(axes, groups.items(), strict=True):
        positions = list(range(len(group)))
        labels = [
            row["config"] + (" (skipped)" if row["note"].startswith("skipped") else "")
            for row in group
        ]
        if any("recovery" in row for row in group):
            # None: it never answered within the bench's patience.
            waits = [row.get("recovery") for row in group]
            measured = [(i, w) for i, w in zip(positions, waits, strict=True)
                        if w is not None]  # fmt: skip
            axis.barh([i for i, _ in measured], [w for _, w in measured],
                      color="#8172b2")  # fmt: skip
            axis.set_xlabel("seconds until the server answers again")
        elif group[0]["floor"]:
            measured = [(i, row) for i, row in zip(positions, group, strict=True)
                        if row.get("max") is not None]  # fmt: skip
            places = [i for i, _ in measured]
            medians = [row["median"] / 1000 for _, row in measured]
            maxima = [row["max"] / 1000 for _, row in measured]
            axis.barh(places, medians, color="#4878a8", label="median")
            axis.hlines(places, medians, maxima, color="#c44e52")
            axis.plot(maxima, places, "o", color="#c44e52", label="max")
            axis.axvline(group[0]["floor"], color="grey", ls="--", label="the delay")
            axis.set_xlabel("seconds per request")
        else:
            rates = [row.get("rps", 0) for row in group]
            axis.barh(positions, rates, color="#55a868")
            axis.set_xlabel("requests per second")
        axis.set_yticks(positions, labels)
        axis.invert_yaxis()
        axis.set_title(workload, loc="left", fontsize=11)
        failures = [
            f"{r['config']}: {r['failed']} failed" for r in group if r.get("failed")
        ]
        if failures:
            axis.text(1, 1.02, "; ".join(failures), transform=axis.transAxes,
                      ha="right", va="bottom", fontsize=8, color="#c44e52")  # fmt: skip
    fig.legend(*axes[0].get_legend_handles_labels(), loc="upper right")
    fig.suptitle(title, x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)
