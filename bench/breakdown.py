"""Where (a)'s CPU goes: each step of the job's plan timed alone, in one thread, on a sample of VMs.

The steps: the index GET, decoding it, one listing page, verifying a chain against its folder and
compacting it. Timed with the cyclic collector running, as it runs in the job: nothing here
changes the collector's state or thresholds, which would make this a different program from the
one it measures. What the collector costs is taken out of each step and reported beside it, for
two reasons:

* Which step a collection lands in is an accident of allocation counts, and (a)'s plan is still
  held in this process (the worker keeps its chains to compare them with (b)'s), so one full
  collection, walking all of it, would be charged to whichever step happened to trigger it.
  `gc.collect()` before each step also starts every step with the same empty young generations,
  so no step pays for the garbage the one before left.
* Subtracted rather than dropped, the collector's share stays visible: if it grows, the report
  says so instead of hiding it in one step or another.

Collections are timed by a `gc.callbacks` entry, an observer only: the process's CPU clock read
when each collection starts and stops.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from bench.cluster import CREDENTIALS, ENVIRON, bsl_object
from bench.generate import Spec
from reconciler.core.chain import compute_chain
from reconciler.core.index import parse_index
from reconciler.core.objects import parse_bsl
from reconciler.sources.live import group_listing
from reconciler.sources.s3 import BucketReader

_T = TypeVar("_T")


class _CollectorClock:
    """CPU seconds the cyclic collector has spent since this was installed (a `gc.callbacks` entry)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started: float | None = None

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.process_time()
        elif self._started is not None:
            self.seconds += time.process_time() - self._started
            self._started = None


@contextmanager
def _collector_clock() -> Iterator[_CollectorClock]:
    clock = _CollectorClock()
    gc.callbacks.append(clock)
    try:
        yield clock
    finally:
        gc.callbacks.remove(clock)


def _timed(step: Callable[[], _T], collector: _CollectorClock) -> tuple[_T, float, float]:
    """step(), its CPU seconds with the collector's left out, and the collector's."""
    gc.collect()  # outside the timing: the garbage of what ran before is not this step's
    began, collected = time.process_time(), collector.seconds
    result = step()
    gc_s = collector.seconds - collected
    return result, time.process_time() - began - gc_s, gc_s


def run_breakdown(spec: Spec, url: str, vms: list[tuple[str, str]], pages: int = 40) -> dict[str, dict[str, float]]:
    """CPU milliseconds of each step of (a), per VM (the listing per page): under "steps" the steps'
    own, under "gc" the collector's during each step."""
    bsl = parse_bsl(bsl_object(spec, url))
    reader = BucketReader(bsl, credentials=CREDENTIALS, environ=ENVIRON)

    def listing() -> dict[Any, Any]:
        listed: dict[Any, Any] = {}
        for vm, folder in group_listing(reader.iter_objects("checkpoints/")):
            listed[vm] = folder
            if reader.stats().get("ListObjectsV2", 0) >= pages:
                break
        return listed

    def verify() -> None:
        for vm, result in parsed:
            compute_chain(result, listed.get(vm, {})).compact()

    with _collector_clock() as collector:
        docs, *get_s = _timed(lambda: [(vm, reader.get_index(vm)) for vm in vms], collector)
        parsed, *parse_s = _timed(lambda: [(vm, parse_index(d)) for vm, d in docs if d is not None], collector)
        listed, *list_s = _timed(listing, collector)
        _, *verify_s = _timed(verify, collector)
    pages_read = reader.stats()["ListObjectsV2"]
    reader.close()
    # (step's seconds, collector's seconds) and what each is divided by: VMs, or pages for the listing
    measured = {
        "get_ms": (get_s, len(vms)),
        "parse_ms": (parse_s, len(parsed)),
        "list_page_ms": (list_s, pages_read),
        "verify_ms": (verify_s, len(parsed)),
    }
    return {
        "steps": {k: s[0] * 1000 / n for k, (s, n) in measured.items()},
        "gc": {k: s[1] * 1000 / n for k, (s, n) in measured.items()},
    }
