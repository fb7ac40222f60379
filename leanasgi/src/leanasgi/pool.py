"""The pool of request threads: idle single-thread executors, at most `keep`
kept, at most `cap` lent at once (or still busy with a call their request
abandoned), and the line of requests waiting for one past the cap."""

import asyncio
import contextlib
import itertools
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections, reset_queries

_names = itertools.count(1)


class OneThread(ThreadPoolExecutor):
    """A single-thread executor that knows whether it is still busy."""

    def __init__(self):
        super().__init__(max_workers=1, thread_name_prefix=f"request-{next(_names)}")
        self._lock = threading.Lock()
        self._unfinished = 0

    def submit(self, fn, /, *args, **kwargs):
        with self._lock:
            self._unfinished += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _future):
        with self._lock:
            self._unfinished -= 1

    @property
    def busy(self):
        return self._unfinished > 0


class IdleThreads:
    """At most `keep` idle executors, each lent to one request at a time, and
    at most `cap` lent at once (None: no cap, as in Django). A request that
    needs one past the cap waits in line, at most `wait` seconds."""

    def __init__(self, keep, cap=None, wait=30.0):
        self.keep = keep
        self.cap = cap
        self.wait = wait
        self.lent = 0
        # Retired while still running a call their request abandoned: they
        # count against the cap until that call ends.
        self.stuck = 0
        self._idle = deque()
        self._line = deque()  # RequestExecutors waiting for a thread, in order
        self.waited = 0  # requests that have had to wait, since start
        self.longest_wait = 0.0  # seconds, the longest wait since start
        self.timed_out = 0  # requests whose wait ran out

    @property
    def idle(self):
        return len(self._idle)

    @property
    def waiting(self):
        return len(self._line)

    def lend(self):
        """An executor, or None when the cap is reached (then wait_in_line)."""
        if self.cap is not None and self.lent + self.stuck >= self.cap:
            return None
        self.lent += 1
        try:
            return self._idle.pop()
        except IndexError:
            return OneThread()

    def wait_in_line(self, request):
        self.waited += 1
        self._line.append(request)

    def leave_line(self, request):
        with contextlib.suppress(ValueError):
            self._line.remove(request)

    def give_back(self, executor, *, clean):
        self.lent -= 1
        stuck = executor.busy  # still running a call its request abandoned
        if not clean:
            # One thread runs its queue in order, so this runs before anything
            # lent later, and before a retired thread ends.
            executor.submit(clean_up_thread)
        if stuck:
            self.stuck += 1
            loop = asyncio.get_running_loop()
            # Runs after the abandoned call (one thread, in order), on that
            # thread: hand the place back on the loop.
            ended = executor.submit(lambda: None)
            ended.add_done_callback(lambda _: loop.call_soon_threadsafe(self._unstuck))
            executor.shutdown(wait=False)
        elif len(self._idle) >= self.keep:
            executor.shutdown(wait=False)
        else:
            self._idle.append(executor)
        self._serve_line()

    def _unstuck(self):
        self.stuck -= 1
        self._serve_line()

    def _serve_line(self):
        while self._line and (thread := self.lend()) is not None:
            self._line.popleft().take(thread)


def clean_up_thread():
    """What Django's request_finished receivers do, for a request that never
    got that far."""
    reset_queries()
    close_old_connections()
