"""What a call gives back, a Result, and the one answer every fan-out makes of them.

A failed call never raises: it becomes a Result with an error, and
`timed_out` says whether it ran out of time, so a view can always answer
JSON: 200 with what it has while any call succeeded, else 504 when every
failure was a timeout and 502 otherwise.
"""

import json
import time
from dataclasses import dataclass

from django.conf import settings
from django.http import JsonResponse


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


def answer(way, form, started, results, partial=True):
    """The JSON every way of fanning out answers: 200 if any call succeeded
    (every call, when a `partial` answer is no answer), else 504 when all
    that failed timed out and 502 otherwise."""
    errors = [result for result in results if not result.ok]
    status = 200
    if errors and (len(errors) == len(results) or not partial):
        status = 504 if all(result.timed_out for result in errors) else 502
    return JsonResponse(
        {
            "way": way,
            **form.cleaned_data,
            "elapsed": round(time.monotonic() - started, 3),
            "errors": len(errors),
            "results": [result.as_json() for result in results],
        },
        status=status,
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
