"""Valid names (S3 buckets, namespaces, VM names): none can step out of the folder it names."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.names import bucket_problem, label_problem, subdomain_problem

CHECKS = (bucket_problem, label_problem, subdomain_problem)


def test_real_names_pass() -> None:
    """Names that real buckets, namespaces and VMs carry are accepted."""
    for name in ("vm-backups", "my.bucket.eu", "abc", "Legacy_Bucket"):
        assert bucket_problem(name) is None, name
    for name in ("prod", "openshift-adp", "a" * 63):
        assert label_problem(name) is None, name
    for name in ("db-1", "web.v2", "a" * 253):
        assert subdomain_problem(name) is None, name


def test_hostile_names_fail() -> None:
    """Dot-dot, slashes, empty names, uppercase Kubernetes names and over-long ones are refused."""
    for name in ("", ".", "..", "...", "../x", "a/b", "ab", "192.168.1.1", "a..b", "a" * 256):
        assert bucket_problem(name) is not None, name
    for name in ("", "..", "a/b", "Prod", "-a", "a" * 64, "a.b"):
        assert label_problem(name) is not None, name
    for name in ("", ".", "..", "a..b", "a/b", ".a", "a" * 254, "DB"):
        assert subdomain_problem(name) is not None, name


@given(st.text(st.characters(codec="utf-8"), max_size=300) | st.sampled_from(["..", ".", "a/..", "../a"]))
def test_a_valid_name_is_one_plain_path_component(name: str) -> None:
    """Whatever a check accepts holds no slash, backslash or NUL and is neither "." nor ".."."""
    for check in CHECKS:
        if check(name) is None:
            assert name not in ("", ".", "..") and not set(name) & {"/", "\\", "\0"}
