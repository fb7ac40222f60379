"""What a call gives back: a Result, its answer or what went wrong.

Shared by every way of fanning out. A failed call never raises: it becomes a
Result with an error, and `timed_out` says whether it ran out of time, so a
view can always answer JSON (502, or 504 when every call timed out).
"""

import functools
import json
from dataclasses import dataclass

import httpx2
from django.conf import settings


@dataclass(frozen=True)
class Result:
    """One call's outcome: its answer, or what went wrong."""

    task_id: int
    value: object = None
    error: str | None = None
    timed_out: bool = False

    @property
    def ok(self):
        return self.error is None

    def as_json(self):
        if self.ok:
            return {"task_id": self.task_id, "value": self.value}
        return {"task_id": self.task_id, "error": self.error}


@functools.cache
def tls():
    """One TLS context for every client: building one reads the whole CA bundle,
    about 20 ms, which a client per request would otherwise pay each time."""
    return httpx2.create_ssl_context()


def timeout(read=None):
    return httpx2.Timeout(
        settings.AGGREGATOR_READ_TIMEOUT if read is None else read,
        connect=settings.AGGREGATOR_CONNECT_TIMEOUT,
    )


def failed(task_id, message, timed_out=False):
    return Result(task_id, error=message, timed_out=timed_out)


def no_answer(task_id):
    return failed(task_id, "timeout: the upstream did not answer in time", True)


def deadline_passed(task_id):
    message = f"timeout: not done within {settings.AGGREGATOR_DEADLINE} s"
    return failed(task_id, message, timed_out=True)


def gone_away(task_id):
    return failed(task_id, "cancelled: the client went away")


def unreachable(task_id, exc):
    return failed(task_id, f"upstream unreachable: {exc.__class__.__name__}")


def read_answer(task_id, status, body):
    if status != 200:
        return failed(task_id, f"upstream answered HTTP {status}")
    try:
        return Result(task_id, value=json.loads(body))
    except ValueError:
        return failed(task_id, "upstream answered something that is not JSON")
