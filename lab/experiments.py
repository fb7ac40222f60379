"""What the lab can run: each experiment is a few lanes, one view per lane.

A lane sends `n` requests at once to one view of this server. The lanes of an
experiment run one after another, so that one lane's load never bends another
lane's bars; the page draws them side by side on one time scale.
"""

from dataclasses import dataclass, field

# Calls per request in the fan-out lanes: the sync loop takes this many delays.
FAN_OUT_CALLS = 5


@dataclass(frozen=True)
class Lane:
    name: str  # the bars' data-lane
    label: str
    url_name: str
    query: dict = field(default_factory=dict)
    takes_delay: bool = True

    def params(self, delay):
        return {**self.query, "delay": delay} if self.takes_delay else self.query


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    lanes: tuple
    blocks_the_loop: bool = False  # its lane stops the loop n * delay seconds


SAY = {"word": "lab"}
FAN_OUT = {"n": FAN_OUT_CALLS}

EXPERIMENTS = {
    experiment.name: experiment
    for experiment in [
        Experiment(
            "say-after",
            "async say-after vs sync say-after",
            (
                Lane("async", "async def", "aggregator:say_after_async", SAY),
                Lane("sync", "def (a thread each)", "aggregator:say_after_sync", SAY),
            ),
        ),
        Experiment(
            "blocking-sleep",
            "asyncio.sleep vs time.sleep inside async def",
            (
                Lane("async", "await asyncio.sleep", "aggregator:say_after_async", SAY),
                Lane(
                    "blocking",
                    "time.sleep (the pitfall)",
                    "aggregator:pitfall_blocking_sleep",
                    SAY,
                ),
            ),
            blocks_the_loop=True,
        ),
        Experiment(
            "fan-out",
            f"{FAN_OUT_CALLS} upstream calls per request: async vs loop vs thread pool",
            (
                Lane("async", "async, bounded", "aggregator:bounded", FAN_OUT),
                Lane("sync", "sync loop", "aggregator:sync_loop", FAN_OUT),
                Lane("threads", "thread pool", "aggregator:threads", FAN_OUT),
            ),
        ),
        Experiment(
            "orm",
            "the blog's first page: async ORM vs sync ORM (delay unused)",
            (
                Lane("async", "async ORM", "blog:post_list_async", takes_delay=False),
                Lane("sync", "sync ORM", "blog:post_list_sync", takes_delay=False),
            ),
        ),
    ]
}
