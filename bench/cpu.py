"""What a view that computes does to the requests beside it: `workers`
clients call a compute view back to back while one probe client sends
trivial requests, one at a time; the probe's latencies are the answer."""

import asyncio
import statistics
from dataclasses import dataclass

from .load import load

TRIVIAL = "/api/say-after?delay=0&word=hi"


@dataclass
class Beside:
    computed: int  # compute requests answered
    probes: list  # the trivial requests' latencies, ms, in order

    def quantile(self, q):
        ordered = sorted(self.probes)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def median(self):
        return statistics.median(self.probes)

    def line(self):
        return (
            f"{self.computed} computed; trivial beside them: {len(self.probes)},"
            f" median {statistics.median(self.probes):.1f} ms,"
            f" p99 {self.quantile(0.99):.1f} ms, max {max(self.probes):.1f} ms"
        )


def beside(url, compute_path, *, workers=2, seconds=3):
    async def run():
        work, probe = await asyncio.gather(
            load(f"{url}{compute_path}", concurrency=workers, duration=seconds),
            load(f"{url}{TRIVIAL}", concurrency=1, duration=seconds),
        )
        assert not work.failures and not probe.failures, (work.failures, probe.failures)
        return Beside(len(work.latencies), [s * 1000 for s in probe.latencies])

    try:
        import uvloop
    except ImportError:
        return asyncio.run(run())
    return uvloop.run(run())
