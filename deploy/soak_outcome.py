"""What a soak (deploy/soak.py) measured: its samples, the pass criteria
held against them, the summary it prints and the chart it draws."""

import statistics
from dataclasses import dataclass, field


@dataclass
class Samples:
    """One row per second: seconds since start, then per app (MiB, threads),
    then PostgreSQL connections."""

    apps: list
    rows: list = field(default_factory=list)


@dataclass
class Outcome:
    seconds: float
    sent: dict
    failed: dict
    reasons: dict  # why the failed ones failed: a status code or an exception
    likes_ok: dict
    likes_counted: dict
    samples: Samples
    concurrency: int
    pool_limit: int
    warm_up: float

    @property
    def failures(self):
        return sum(self.failed.values())

    def series(self):
        """{name: [(t, value), ...]} for each app's RSS and threads and PostgreSQL."""
        series = {}
        for i, app in enumerate(self.samples.apps):
            series[f"{app} MiB"] = [
                (row[0], row[1 + 2 * i]) for row in self.samples.rows
            ]
            series[f"{app} threads"] = [
                (row[0], row[2 + 2 * i]) for row in self.samples.rows
            ]
        series["PostgreSQL connections"] = [
            (row[0], row[-1]) for row in self.samples.rows
        ]
        return series

    def rss_growth(self, app):
        """Resident memory growth from the end of the warm-up to the end, as a
        fraction: the mean of the last 10 s over the mean of the 10 s after
        the warm-up."""
        points = self.series()[f"{app} MiB"]
        after = [v for t, v in points if self.warm_up <= t < self.warm_up + 10]
        last = [v for t, v in points if t >= self.seconds - 10]
        if not after or not last or not min(after):
            return float("inf")  # no sample, or the server was down
        return statistics.mean(last) / statistics.mean(after) - 1

    def checks(self):
        """(criterion, passed, detail) for each pass criterion."""
        likes_exact = self.likes_ok == self.likes_counted
        peak_connections = max(row[-1] for row in self.samples.rows)
        growth = {app: self.rss_growth(app) for app in self.samples.apps}
        return [
            (
                "no failed request",
                self.failures == 0,
                f"{self.failures} failed"
                + (f": {self.reasons}" if self.reasons else ""),
            ),
            (
                "likes counted exactly",
                likes_exact,
                f"200 answers {self.likes_ok}, counted {self.likes_counted}",
            ),
            (
                "RSS growth after warm-up under 10%",
                all(g < 0.10 for g in growth.values()),
                ", ".join(f"{app} {g:+.1%}" for app, g in growth.items()),
            ),
            (
                "PostgreSQL connections within the pools",
                peak_connections <= self.pool_limit,
                f"peak {peak_connections}, pools {self.pool_limit}",
            ),
        ]

    @property
    def passed(self):
        return all(ok for _, ok, _ in self.checks())

    def summary(self):
        total = sum(self.sent.values())
        lines = [
            f"Soak: {self.seconds:.0f} s at {self.concurrency} concurrent requests through"
            f" nginx, {total} requests ({total / self.seconds:.0f}/s)",
        ]
        for kind, sent in self.sent.items():
            lines.append(
                f"  {kind:10} {sent:7} sent, {self.failed.get(kind, 0)} failed"
            )
        lines.append(f"Samples every second after a {self.warm_up:.0f} s warm-up:")
        for name, points in self.series().items():
            kept = [(t, v) for t, v in points if t >= self.warm_up]
            values = [v for _, v in kept]
            lines.append(
                f"  {name:24} start {values[0]:7.1f}  end {values[-1]:7.1f}"
                f"  max {max(values):7.1f}  slope {slope(kept) * 60:+7.2f}/min"
            )
        for criterion, ok, detail in self.checks():
            lines.append(f"{'PASS' if ok else 'FAIL'}: {criterion} ({detail})")
        return "\n".join(lines)


def slope(points):
    """Least-squares slope of (t, value) points, per second."""
    if len(points) < 2:
        return 0.0
    return statistics.linear_regression(*zip(*points, strict=True)).slope


def draw(outcome, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = outcome.series()
    figure, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    for (title, suffix), ax in zip(
        [("Resident memory (MiB)", " MiB"), ("Threads", " threads")], axes, strict=False
    ):
        for app in outcome.samples.apps:
            points = series[app + suffix]
            ax.plot([t for t, _ in points], [v for _, v in points], label=app)
        ax.set_title(title)
        ax.legend(loc="lower right")
    points = series["PostgreSQL connections"]
    axes[2].plot([t for t, _ in points], [v for _, v in points], color="tab:green")
    axes[2].axhline(outcome.pool_limit, color="tab:red", linestyle="--", label="pools")
    axes[2].set_title("PostgreSQL connections")
    axes[2].legend(loc="lower right")
    axes[2].set_xlabel("seconds")
    for ax in axes:
        ax.axvline(outcome.warm_up, color="grey", linestyle=":")
        ax.set_ylim(bottom=0)
    figure.suptitle(
        f"Soak: {outcome.seconds:.0f} s at {outcome.concurrency} concurrent, through nginx"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
