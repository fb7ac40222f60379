"""Peak memory and thread count of a server's whole process tree, from /proc.

The servers run in their own session, so every worker they fork shares the
process group id of the one we started; the sampler adds up VmRSS and Threads
over that group every 50 ms.
"""

import threading
from pathlib import Path


def group_usage(group_id):
    """(resident MiB, threads) summed over the processes in `group_id`."""
    rss_kib = threads = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name may hold spaces and brackets: split after its ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != group_id:
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss_kib += int(line.split()[1])
            elif line.startswith("Threads:"):
                threads += int(line.split()[1])
    return rss_kib / 1024, threads


class PeakSampler:
    """`with PeakSampler(pgid) as peak:` ... then peak.rss_mib, peak.threads."""

    def __init__(self, group_id, interval=0.05):
        self.group_id = group_id
        self.interval = interval
        self.rss_mib = 0.0
        self.threads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while True:
            rss, threads = group_usage(self.group_id)
            self.rss_mib = max(self.rss_mib, rss)
            self.threads = max(self.threads, threads)
            if self._stop.wait(self.interval):
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()
