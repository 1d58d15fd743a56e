"""Go's text forms: the quick reading of the controller's time shape agrees with the general port."""

from __future__ import annotations

from datetime import UTC

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core import gotext


def _two(high: int) -> st.SearchStrategy[str]:
    return st.integers(0, high).map("{:02d}".format)


# Each part one past its range at both ends, so invalid dates and clocks come up often.
_whole_seconds_utc = st.tuples(
    st.integers(0, 9999).map("{:04d}".format), _two(13), _two(32), _two(24), _two(60), _two(60)
).map(lambda p: f"{p[0]}-{p[1]}-{p[2]}T{p[3]}:{p[4]}:{p[5]}Z")


def _general(s: str) -> object:
    try:
        return gotext._go_time_general(s)
    except ValueError:
        return ValueError


def _quick(s: str) -> object:
    try:
        return gotext.go_time(s)
    except ValueError:
        return ValueError


@given(
    _whole_seconds_utc
    | st.sampled_from(
        [
            "0001-01-01T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2024-02-29T12:00:00Z",
            "2023-02-29T12:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T23:60:00Z",
            "2026-01-01T23:59:60Z",
            "2026-00-10T00:00:00Z",
            "2026-13-10T00:00:00Z",
            "2026-01-00T00:00:00Z",
        ]
    )
)
def test_quick_reading_agrees_with_the_general_port(text: str) -> None:
    quick, general = _quick(text), _general(text)
    assert quick == general
    if quick not in (None, ValueError):
        assert quick.tzinfo is UTC  # type: ignore[attr-defined]


def test_the_controllers_shape_is_read() -> None:
    assert gotext.go_time("0001-01-01T00:00:00Z") is None
    assert gotext.go_time("0000-01-01T00:00:00Z") == gotext._MIN
    assert str(gotext.go_time("2026-10-01T01:07:03Z")) == "2026-10-01 01:07:03+00:00"


def test_base_0_reads_prefixes_and_underscores_as_strconv_does() -> None:
    """strconv.ParseInt(s, 0, 64), the flag package's int: results taken from Go's documented rules."""
    cases = {
        "0": 0,
        "010": 8,
        "0x1F": 31,
        "0o17": 15,
        "0b101": 5,
        "1_000": 1000,
        "0x_1f": 31,
        "-12": -12,
        "+7": 7,
        "9223372036854775807": (1 << 63) - 1,
        "-9223372036854775808": -(1 << 63),
    }
    assert {s: gotext.int64_base0(s) for s in cases} == cases
    for bad in ("", "-", "_1", "1__0", "1_", "0x", "08", "0b2", "1e3", " 5", "9223372036854775808", "٣"):
        assert gotext.int64_base0(bad) is None, bad


@given(st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1))
def test_base_0_agrees_with_base_10_on_plain_decimals(n: int) -> None:
    """Without a leading zero, base 0 is base 10."""
    assert gotext.int64_base0(str(n)) == gotext.int64(str(n)) == n
