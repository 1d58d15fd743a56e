"""Shared test configuration: the hypothesis profiles, and the fixture plugins every test may use.

`make test` runs the "default" profile: 300 examples a property. `make fuzz` sets
HYPOTHESIS_PROFILE=fuzz: 10,000 examples for the properties marked `fuzz`. Neither has a deadline
or the too_slow health check: both measure wall-clock time, which a loaded machine or tests
running in parallel stretch without anything being wrong.
"""

import logging
import os
import signal
import warnings
from collections.abc import Iterator

import pytest
import structlog
from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.s3fixtures", "tests.fakekube.fixtures"]

EXAMPLES = 300

settings.register_profile("default", max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked `slow` first, each group in its collected order (a stable sort).

    pytest-xdist hands tests out in collection order: a 25 s test collected last runs alone at the
    end while the other workers idle. Started first, the long tests overlap the many short ones.
    Whole modules marked slow stay contiguous, so their module-scoped fixtures are set up once.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def _logging_as_found() -> Iterator[None]:
    """Every test leaves process-wide logging as it found it.

    `logs.configure` (which every CLI run calls) sets the root logger's handlers and level,
    structlog's configuration and the warnings hook, all process-wide, pointing at the stream of
    the test that called it. With tests spread over workers in no fixed order, a test must not
    depend on what an earlier one in its process left behind.
    """
    root, own = logging.getLogger(), logging.getLogger("reconciler")
    handlers, level, own_level = list(root.handlers), root.level, own.level
    config, showwarning = dict(structlog.get_config()), warnings.showwarning
    yield
    root.handlers, root.level = handlers, level
    own.setLevel(own_level)
    structlog.configure(**config)
    logging.captureWarnings(False)
    warnings.showwarning = showwarning


# The signals whose handlers a test could leave behind for the next test in its worker process.
_GUARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM)


@pytest.fixture(autouse=True)
def _signal_handlers_as_found(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test leaves the process's signal handlers as it found them, or fails saying it did not.

    The job installs its Ctrl-C handler only where SIGINT has Python's default handler
    (`reconciler.interrupts`); a handler left behind by an earlier test in the same xdist worker
    would turn the Ctrl-C tests of a later one into runs that ignore the interrupt, far from the
    cause. The leak is repaired here (so one leak fails one test, not every later one) and
    reported on the test that made it. (The handler the process started with is another matter:
    the Ctrl-C tests set the one they need themselves, see tests/test_cli_errors.py.)
    """
    found = {signum: signal.getsignal(signum) for signum in _GUARDED_SIGNALS}
    yield
    leaked = {
        signal.Signals(signum).name: now
        for signum, before in found.items()
        if (now := signal.getsignal(signum)) is not before
    }
    for signum, before in found.items():
        if before is not None and signal.getsignal(signum) is not before:  # None: set outside Python
            signal.signal(signum, before)
    if leaked:
        pytest.fail(f"{request.node.nodeid} left signal handlers behind: {leaked}", pytrace=False)
