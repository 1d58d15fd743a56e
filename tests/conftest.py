"""Shared test configuration: the hypothesis profiles, and the fixture plugins every test may use.

`make test` runs the "default" profile: 300 examples a property. `make fuzz` sets
HYPOTHESIS_PROFILE=fuzz: 10,000 examples for the properties marked `fuzz`. Neither has a deadline
or the too_slow health check: both measure wall-clock time, which a loaded machine or tests
running in parallel stretch without anything being wrong.
"""

import logging
import os
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
