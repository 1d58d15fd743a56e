"""Shared test configuration: hypothesis profiles (the fuzz profile runs many more examples)."""

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.s3fixtures", "tests.fakekube.fixtures"]

settings.register_profile("default", max_examples=200, deadline=None)
settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
