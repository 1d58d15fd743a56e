"""Hostile input: index documents and annotation values from hypothesis, through the whole decision.

Every example runs parse_index -> compute_chain -> view_schedules/targets -> decide -> patch ->
report and Events, and checks that nothing raises, that every VM the plan covers ends with an
action and at least one reason, that a patch never loses the VM's original value (after the
patch, the original is the state annotation's `original`, or the value itself once given back),
and that deciding again on the patched VM writes nothing.

`make test` runs the default profile's 300 examples per property; `make fuzz`
(HYPOTHESIS_PROFILE=fuzz) the fuzz profile's 10,000.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from reconciler.apply import event_body
from reconciler.core import keys
from reconciler.core.chain import Chain, compute_chain
from reconciler.core.decide import Decision, ScheduleView, decide
from reconciler.core.events import schedule_events, vm_events
from reconciler.core.index import parse_index
from reconciler.core.model import VM, Action, ChainState, Index, Schedule
from reconciler.core.plan import Plan, build_plan, needs_index, targets, view_schedules
from reconciler.core.policy import parse_count, parse_duration, schedule_policy, vm_override
from reconciler.core.state import OwnerState, controller_limit, parse_state
from reconciler.core.timefmt import parse_time
from reconciler.report import render_json, render_table
from tests.builders import bsl, schedule

# As many examples as the profile says (tests/conftest.py): 300 in make test, 10,000 in make fuzz.
FUZZ = settings(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
)

# --------------------------------------------------------------------------- JSON text


class Obj:
    """A JSON object as ordered (key, value) pairs, so documents can repeat a key."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs


def dump(value: Any, *, ascii_only: bool) -> str:
    """JSON text; an Obj keeps duplicate keys. Non-finite floats come out as Go rejects them."""
    if isinstance(value, Obj):
        inner = ",".join(f"{dump(k, ascii_only=ascii_only)}:{dump(v, ascii_only=ascii_only)}" for k, v in value.pairs)
        return "{" + inner + "}"
    if isinstance(value, dict):
        return dump(Obj(list(value.items())), ascii_only=ascii_only)
    if isinstance(value, list):
        return "[" + ",".join(dump(v, ascii_only=ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # lone surrogates stay, as a hostile writer's would


# Odd Unicode: every category (lone surrogates, controls, NUL, non-characters, RTL marks, emoji).
ODD_CHARS = st.characters(codec=None, categories=None) | st.sampled_from(
    ["\x00", "\ud800", "\udfff", "\ufeff", "\u202e", "\u0130", "\u017f", "\u212a", "\uffff", "\U0001f4a5", "é"]
)
odd_text = st.text(ODD_CHARS, max_size=12)
HUGE_INTS = st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**30, 10**400, -1, 0])
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | HUGE_INTS
    | st.floats(allow_nan=True, allow_infinity=True)
    | odd_text
    | st.sampled_from(["2026-03-01T01:12:00Z", "Full", "Incremental", "10Gi", ""])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["id", "type", "ID", "checkpoints", "size"]) | odd_text, inner, max_size=4)
    ),
    max_leaves=10,
)


def mostly(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`usual` three times in four, else `odd`: hostile values, but enough sane ones that the
    decisions that write (force-full, keep, release) are reached often."""
    return st.one_of(usual, usual, usual, odd)


# --------------------------------------------------------------------------- index documents

IDS = ["cp-1", "cp-2", "cp-3", "cp-4", "CP-1", "", "cp-1\x00", "\U0001f600"]
ids = st.sampled_from(IDS)
TYPES = st.sampled_from(
    ["Full", "Incremental", "full", "INCREMENTAL", "fUlL", "", "Full ", "Differential", "\u0130ncremental"]
)
TIMESTAMPS = st.sampled_from(
    [
        "2026-03-01T01:12:00Z",
        "2026-03-09T01:12:07.123456789+02:00",
        "2026-03-09T01:12:00-00:00",
        "0001-01-01T00:00:00Z",
        "0001-01-01T01:00:00+01:00",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-23:59",
        "2026-02-30T00:00:00Z",
        "2026-03-01 01:12:00Z",
        "2026-03-01T01:12:00",
        "2026-03-01T24:00:00Z",
        "",
    ]
)
SIZES = st.sampled_from([0, 1, 1000, 3000, 2**63 - 1, 2**63, -1, 10**30, 1.5, "12", None])


def _path(cid: str, disk: str) -> str:
    return f"checkpoints/apps/vm/{cid}/{disk}.qcow2"


@st.composite
def chain_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A chain as the uploader writes it: a full, incrementals naming the previous entry, newest last.
    Some entries then get another id, parent, type or timestamp from small pools, so cycles,
    duplicate ids, dangling parents, odd types and times appear often."""
    n = draw(st.integers(0, 7))
    start = draw(instants(datetime(2025, 1, 1), datetime(2027, 1, 1)))
    entries: list[dict[str, Any]] = []
    for i in range(n):
        cid = f"cp-{i + 1}"
        at = (start + timedelta(days=i, minutes=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
        entry: dict[str, Any] = {
            "id": cid,
            "type": "Incremental" if i else "Full",
            "timestamp": at,
            "vmBackup": f"vmb-{cid}",
            "files": [
                {"filename": f"{d}.qcow2", "diskName": d, "size": 3000, "objectPath": _path(cid, d)}
                for d in ("rootdisk", "datadisk")
            ],
            "pvcs": ["rootdisk", "datadisk"],
            "pvcSizes": ["10Gi", "1Gi"],
            "referencedBy": [f"nightly-{i}"],
        }
        if i:
            entry["parent"] = f"cp-{i}"
        entries.append(entry)
    for _ in range(draw(st.integers(0, 3)) if entries else 0):
        entry = entries[draw(st.integers(0, len(entries) - 1))]
        field, strategy = draw(
            st.sampled_from(
                [
                    ("id", ids),
                    ("parent", ids),
                    ("type", TYPES),
                    ("timestamp", TIMESTAMPS),
                    ("referencedBy", st.just(["", ""])),
                ]
            )
        )
        entry[field] = draw(strategy)
    return {"vmName": "vm", "namespace": "apps", "lastUpdated": "2026-03-01T01:12:00Z", "checkpoints": entries}


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a document where a value sits (object members and array elements)."""
    out = [here]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*here, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*here, i))
    return out


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    return [*value[:head], _replace(value[head], rest, new), *value[head + 1 :]]


def _with_pairs(value: Any, path: tuple[Any, ...], how: str, extra: Any) -> Any:
    """Turn the object at `path` into an Obj with a repeated, re-cased or unknown key."""
    target = value
    for step in path:
        target = target[step]
    if not isinstance(target, dict) or not target:
        return value
    pairs = list(target.items())
    key, old = pairs[0]
    if how == "duplicate":
        pairs.append((key, extra))
    elif how == "case":
        pairs[0] = (key.upper().replace("S", "\u017f"), old)  # Go folds case; U+017F folds to s
    else:
        pairs.append(("x-" + key, extra))
    return _replace(value, path, Obj(pairs))


@st.composite
def damaged(draw: st.DrawFn, doc: dict[str, Any]) -> Any:
    """Up to three corruptions anywhere: a value of another type, a huge number, null, a deleted
    member, a duplicate or re-cased key, an unknown member."""
    value: Any = doc
    for _ in range(draw(st.integers(0, 3))):
        paths = _paths(value) if not isinstance(value, Obj) else [()]
        path = paths[draw(st.integers(0, len(paths) - 1))]
        how = draw(st.sampled_from(["wrong", "size", "null", "delete", "duplicate", "case", "unknown"]))
        if how == "wrong":
            value = _replace(value, path, draw(mostly(json_scalars, json_values)))
        elif how == "size":
            value = _replace(value, path, draw(SIZES))
        elif how == "null":
            value = _replace(value, path, None)
        elif how == "delete" and path:
            parent_path, last = path[:-1], path[-1]
            parent: Any = value
            for step in parent_path:
                parent = parent[step]
            if isinstance(parent, dict):
                value = _replace(value, parent_path, {k: v for k, v in parent.items() if k != last})
            else:
                value = _replace(value, parent_path, [v for i, v in enumerate(parent) if i != last])
        elif how in ("duplicate", "case", "unknown"):
            value = _with_pairs(value, path, how, draw(json_scalars))
        if isinstance(value, Obj):
            break
    return value


@st.composite
def index_documents(draw: st.DrawFn) -> bytes:
    doc = draw(chain_documents())
    value = draw(damaged(doc)) if draw(st.booleans()) else doc
    return encode(dump(value, ascii_only=draw(st.booleans())))


random_documents = (
    json_values.map(lambda v: encode(dump(v, ascii_only=False)))
    | st.binary(max_size=200)
    | st.sampled_from([b"", b"null", b"\xef\xbb\xbf{}", b'{"checkpoints":[]} x', b"NaN", b"1e99999"])
)

# --------------------------------------------------------------------------- annotations

COUNT_VALUES = [
    "0",
    "1",
    "3",
    "5",
    "30",
    "-1",
    "007",
    " 5",
    "5 ",
    "+5",
    "5.0",
    "junk",
    "",
    "off",
    "OFF ",
    "9" * 19,
    "9" * 30,
    "9" * 5000,
    "\u0663",
    "\uff15",
]
DURATION_VALUES = [
    "7d",
    "36h",
    "2w",
    "168h30m",
    "1.5d",
    ".5h",
    "0d",
    "0.0000000001ns",
    "1e5d",
    "7x",
    "9" * 20 + "w",
    "9" * 400 + "d",
    "99999999999999999999w",
    "off",
    "-7d",
    "7 d",
]
COUNTS = st.sampled_from(COUNT_VALUES)
DURATIONS = st.sampled_from(DURATION_VALUES)


def mostly_one_of(usual: list[str], odd: list[str]) -> st.SearchStrategy[str]:
    """One draw: a value of `usual` three times in four, else one of `odd`."""
    return st.sampled_from(usual * (3 * len(odd) // len(usual) + 1) + odd)


def instants(start: datetime, end: datetime) -> st.SearchStrategy[datetime]:
    """Whole seconds between two UTC instants, in one cheap draw."""
    span = int((end - start).total_seconds())
    return st.integers(0, span).map(lambda s: start + timedelta(seconds=s))


annotation_values = COUNTS | DURATIONS | odd_text
VALID_STATES = st.builds(
    lambda o, at, root, r: OwnerState(o, at, root, tuple(r)).dump(),
    st.none() | COUNTS | odd_text,
    st.sampled_from([None, "2026-03-01T00:00:00Z", "yesterday"]),
    st.none() | ids,
    st.lists(st.sampled_from(["count", "age", ""]), max_size=2),
)
HOSTILE_STATES = st.one_of(
    json_values.map(json.dumps),
    odd_text,
    st.sampled_from(
        [
            "[" * 5000 + "]" * 5000,
            '{"original":' + "[" * 3000 + "]" * 3000 + "}",
            '{"original": 5}',
            '{"reasons": "count"}',
            "{}",
            "null",
            '{"original":"3"} trailing',
        ]
    ),
)
STATES = mostly(VALID_STATES, HOSTILE_STATES)  # mostly well-formed, so that patches happen
CRONS = st.sampled_from(
    [
        "0 1 * * *",
        "0 1 * * *",
        "@every 36h",
        "CRON_TZ=Europe/Berlin 30 2 * * *",
        "@daily",
        "*/5 * * * *",
        "0 0 30 2 *",
        "61 * * * *",
        "TZ=Nowhere/City 0 1 * * *",
        "",
        "@every 0s",
    ]
)


@st.composite
def vms(draw: st.DrawFn) -> VM:
    ann: dict[str, str] = {}
    if draw(st.booleans()):
        ann[keys.MAX_INCREMENTAL] = draw(COUNTS | odd_text)
    if draw(st.booleans()):
        ann[keys.STATE] = draw(STATES)
    if draw(st.integers(0, 9)) == 0:
        ann[keys.INTERVAL] = draw(mostly(st.sampled_from(["2", "off", "OFF "]), annotation_values))
    if draw(st.integers(0, 9)) == 0:
        ann[keys.MAX_AGE] = draw(mostly(st.sampled_from(["2d", "off"]), annotation_values))
    labels = {keys.DUE_LABEL: draw(st.sampled_from(["true", "false", "", "\u202e"]))} if draw(st.booleans()) else {}
    status = draw(st.sampled_from(["Running"] * 12 + ["Stopped", "", "Migrating"]))
    cbt = draw(st.sampled_from(["Enabled"] * 12 + ["Disabled", "", "Pending"]))
    return VM("apps", "vm", "uid-vm", str(draw(st.integers(1, 10**6))), labels, ann, status, cbt)


@st.composite
def schedules(draw: st.DrawFn) -> list[Schedule]:
    out = []
    for i in range(draw(st.integers(1, 2))):
        ann = {}
        if draw(st.integers(0, 3)):
            ann[keys.INTERVAL] = draw(mostly_one_of(["1", "2", "4", "7"], COUNT_VALUES))
        if draw(st.booleans()):
            ann[keys.MAX_AGE] = draw(mostly_one_of(["1d", "7d", "36h"], DURATION_VALUES))
        if draw(st.integers(0, 3)) == 0:
            ann[keys.MAX_PER_RUN] = draw(mostly_one_of(["2"], COUNT_VALUES))
        last = draw(st.none() | instants(datetime(2025, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)))
        out.append(
            schedule(
                f"s{i}", cron=draw(CRONS), annotations=ann, paused=draw(st.booleans()) and i == 0, last_backup=last
            )
        )
    return out


nows = instants(datetime(2025, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)) | instants(
    datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC)
)

# --------------------------------------------------------------------------- the properties

NOW = datetime(2026, 3, 5, 0, 45, tzinfo=UTC)
_VIEWS_3 = view_schedules([schedule("s0", annotations={keys.INTERVAL: "3", keys.MAX_AGE: "7d"})], [bsl()], now=NOW)
_PLAIN_VMS = [  # a new VM, one with a value of its own, one managed and forcing, one managed and given a value
    VM("apps", "vm", "u", "1", {}, {}, "Running", "Enabled"),
    VM("apps", "vm", "u", "1", {}, {keys.MAX_INCREMENTAL: "30"}, "Running", "Enabled"),
    VM(
        "apps",
        "vm",
        "u",
        "1",
        {keys.DUE_LABEL: "true"},
        {keys.MAX_INCREMENTAL: "2", keys.STATE: OwnerState("30", "2026-03-01T00:00:00Z", "cp-1", ("count",)).dump()},
        "Running",
        "Enabled",
    ),
    VM(
        "apps",
        "vm",
        "u",
        "1",
        {},
        {keys.MAX_INCREMENTAL: "3", keys.STATE: OwnerState(None).dump()},
        "Running",
        "Enabled",
    ),
]


def apply_merge(current: dict[str, str], changes: dict[str, str | None] | None) -> dict[str, str]:
    out = dict(current)
    for key, value in (changes or {}).items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def true_original(vm: VM) -> str | None:
    """What the VM held before the job first touched it, as the VM alone tells it."""
    text = vm.annotations.get(keys.STATE)
    if text is not None:
        owner = parse_state(text)
        assert isinstance(owner, OwnerState), "a decision wrote over a malformed state annotation"
        return owner.original
    return vm.annotations.get(keys.MAX_INCREMENTAL)


def patched(vm: VM, patch: dict[str, Any]) -> VM:
    meta = patch["metadata"]
    assert meta["resourceVersion"] == vm.resource_version, "every write is guarded by resourceVersion"
    assert set(meta) <= {"annotations", "labels", "resourceVersion"}
    assert set(meta.get("annotations") or {}) <= {keys.MAX_INCREMENTAL, keys.STATE}, "touches a key it does not own"
    assert set(meta.get("labels") or {}) <= {keys.DUE_LABEL}
    return replace(
        vm,
        annotations=apply_merge(dict(vm.annotations), meta.get("annotations")),
        labels=apply_merge(dict(vm.labels), meta.get("labels")),
        resource_version=str(int(vm.resource_version) + 1),
    )


def check_decision(d: Decision, vm: VM, chain: Chain, now: datetime) -> None:
    assert isinstance(d.action, Action)
    assert d.reasons, f"{d.action} without a reason"
    assert all(r.code and isinstance(r.text, str) for r in d.reasons)
    patch = d.patch()
    if d.action in (Action.ERROR, Action.SKIP, Action.BLOCKED) or (
        d.action is Action.FULL_ANYWAY and "controller-limit" not in d.codes
    ):
        assert patch is None, f"{d.action} must not write"
    if patch is None:
        return
    if d.action is Action.FULL_ANYWAY:
        # The one write of a controller-limit full: a looser value of an earlier run gives way to the
        # baseline, which is what makes the predicted full happen. Nothing else changes.
        written = patch["metadata"].get("annotations") or {}
        assert set(written) == {keys.MAX_INCREMENTAL} and "labels" not in patch["metadata"], patch
        limit = controller_limit(written[keys.MAX_INCREMENTAL])
        assert limit is not None and 0 < limit <= chain.incrementals
    # The original is never lost: before the patch it is recoverable from the VM (when the VM has a
    # well-formed state, or none), and after the patch it still is.
    before = true_original(vm)
    after_vm = patched(vm, patch)
    after_state = after_vm.annotations.get(keys.STATE)
    if after_state is not None:
        owner = parse_state(after_state)
        assert isinstance(owner, OwnerState)
        assert owner.original == before, "the state annotation dropped or changed the original"
    else:
        assert after_vm.annotations.get(keys.MAX_INCREMENTAL) == before, "given back, but not the original"
    # A second run with nothing changed writes nothing.
    # (This is also apply's re-read after a 409: the VM as the first write left it.)
    again = decide(after_vm, d.views, chain, now=now, upstream=d.upstream)
    assert again.patch() is None, f"not idempotent: {d.action} then {again.action} {again.patch()}"


def run_everything(
    data: bytes, vm: VM, scheds: list[Schedule] | tuple[ScheduleView, ...], now: datetime, listing_choices: list[int]
) -> Plan:
    """The whole decision for one VM; `scheds` may be views already computed for `now`."""
    result = parse_index(data)
    listing: dict[str, int | None] | None = None
    if isinstance(result, Index):
        listing = {}
        choices = iter(listing_choices)
        for c in result.checkpoints:
            for f in c.files:
                choice = next(choices, 0)
                if choice == 0:
                    listing[f.object_path] = f.size
                elif choice == 1:
                    listing[f.object_path] = None  # a zero-length stand-in: size unknown
                elif choice == 2:
                    listing[f.object_path] = f.size + 1
                # 3: missing
    chain = compute_chain(result, listing)
    assert isinstance(chain.state, ChainState)
    event(f"chain {chain.state}")
    views = (
        tuple(scheds) if scheds and isinstance(scheds[0], ScheduleView) else view_schedules(scheds, [bsl()], now=now)
    )  # type: ignore[arg-type]
    covered = targets(views, [vm])
    for target, mine in covered:
        needs_index(target, mine)
    plan = build_plan(now=now, views=views, covered=covered, chains={vm.key: chain})
    for d in plan.decisions:
        event(f"{d.action}{' (writes)' if d.patch() is not None else ''}")
        check_decision(d, vm, chain, now)
        for spec in vm_events(d):
            body = event_body(spec, now=now, serial=0)
            assert len(body["message"]) <= 1024
    for view in plan.schedules:
        assert view.policy is not None or view.errors or not view.usable
        for spec in schedule_events(view):
            event_body(spec, now=now, serial=1)
    if keys.STATE in vm.annotations or any(v.usable for v in plan.schedules):
        # Under a usable policy (or managed), the VM is in the plan with a reasoned state.
        assert [d.vm.key for d in plan.decisions] == [vm.key] or not any(v.usable for v in plan.schedules)
    json.loads(render_json(plan))
    render_table(plan)
    return plan


@pytest.mark.fuzz
@FUZZ
@given(
    data=index_documents(),
    vm=vms(),
    scheds=schedules(),
    now=nows,
    listing=st.lists(st.sampled_from([0] * 12 + [1, 2, 3]), max_size=20),
)
@example(
    data=b'{"checkpoints":[{"id":"a","type":"Full","timestamp":"9999-12-31T23:59:59-23:59","files":[]},'
    b'{"id":"b","type":"Incremental","parent":"a","timestamp":"2026-03-01T00:00:00Z"}]}',
    vm=VM("apps", "vm", "u", "1", {}, {}, "Running", "Enabled"),
    scheds=[schedule("s0", annotations={keys.MAX_AGE: "7d", keys.INTERVAL: "1"})],
    now=datetime(2026, 3, 2, tzinfo=UTC),
    listing=[],
)
def test_schema_shaped_documents_and_annotations(
    data: bytes, vm: VM, scheds: list[Schedule], now: datetime, listing: list[int]
) -> None:
    """Schema-shaped indexes with damaged fields, cycles, duplicate ids and keys, huge numbers,
    wrong types and odd Unicode, with hostile VM and Schedule annotations: no crash, every VM
    reasoned, no original dropped, re-deciding writes nothing."""
    run_everything(data, vm, scheds, now, listing)


@pytest.mark.fuzz
@FUZZ
@given(data=random_documents, vm=st.sampled_from(_PLAIN_VMS))
@example(data=b"[" * 20000, vm=_PLAIN_VMS[0])
@example(data=b'{"checkpoints":' + b"[" * 10001, vm=_PLAIN_VMS[0])
@example(
    data=b'{"checkpoints":[' + b'{"id":"a","type":"Full","files":[]},' * 2000 + b'{"id":"a","parent":"a"}]}',
    vm=_PLAIN_VMS[1],
)
def test_random_json_and_bytes(data: bytes, vm: VM) -> None:
    """Any JSON value, any bytes: the index is unreadable (full anyway) or a chain, never a crash."""
    result = parse_index(data)
    if not isinstance(result, Index):
        assert compute_chain(result).state in (ChainState.UNREADABLE, ChainState.NO_INDEX)
    run_everything(data, vm, _VIEWS_3, NOW, [])


_TWO = compute_chain(
    parse_index(
        json.dumps(
            {
                "checkpoints": [
                    {"id": "a", "type": "Full", "timestamp": "2026-03-01T01:12:00Z", "files": []},
                    {"id": "b", "type": "Incremental", "parent": "a", "timestamp": "2026-03-02T01:12:00Z", "files": []},
                ]
            }
        )
    ),
    {},
)
_VIEWS = view_schedules([schedule("s0", annotations={keys.INTERVAL: "1"})], [bsl()], now=NOW)


@pytest.mark.fuzz
@FUZZ
@given(value=annotation_values | STATES, other=st.none() | COUNTS | STATES)
def test_annotation_values_alone(value: str, other: str | None) -> None:
    """A hostile value in each key the job reads from a VM (beside another hostile value in the
    job's own keys), and in each policy key of a Schedule: an error naming the key, or a decision."""
    for key in (keys.MAX_INCREMENTAL, keys.STATE, keys.INTERVAL, keys.MAX_AGE):
        ann = {key: value}
        if other is not None:
            ann.setdefault(keys.STATE if key == keys.MAX_INCREMENTAL else keys.MAX_INCREMENTAL, other)
        vm = VM("apps", "vm", "u", "1", {}, ann, "Running", "Enabled")
        d = decide(vm, _VIEWS, _TWO, now=NOW)
        check_decision(d, vm, _TWO, NOW)
        if d.action is Action.ERROR:
            assert d.codes == ("invalid-annotation",) and (key in d.message or keys.STATE in d.message)
    for key in (keys.INTERVAL, keys.MAX_AGE, keys.MAX_PER_RUN):
        policy, errors = schedule_policy("velero/s0", {keys.INTERVAL: "2", key: value})
        assert (policy is None) == bool(errors)
        assert policy is not None or any(key in str(e) for e in errors)


# --------------------------------------------------------------------------- regressions


def test_deeply_nested_state_annotation_is_an_error_not_a_crash() -> None:
    """json.loads raises RecursionError on deep nesting; the state annotation is then malformed."""
    assert isinstance(parse_state("[" * 100_000), str)
    vm = VM("apps", "vm", "u", "1", {}, {keys.STATE: "[" * 100_000}, "Running", "Enabled")
    views = view_schedules(
        [schedule("s0", annotations={keys.INTERVAL: "3"})], [bsl()], now=datetime(2026, 3, 2, tzinfo=UTC)
    )
    d = decide(vm, views, Chain(ChainState.NO_INDEX), now=datetime(2026, 3, 2, tzinfo=UTC))
    assert d.action is Action.ERROR and d.codes == ("invalid-annotation",)


def test_huge_counts_and_durations_are_malformed_not_crashes() -> None:
    """int() refuses more than 4,300 digits and timedelta overflows: both are just not a policy.
    Counts end at int64, where the controller's strconv.ParseInt does."""
    assert parse_count("9" * 5000) is None
    assert parse_count("9" * 30) is None
    assert parse_count(str(2**63)) is None
    assert parse_count("000" + str(2**63 - 1)) == 2**63 - 1
    assert controller_limit("9" * 5000) is None and controller_limit("-" + "9" * 5000) is None
    assert controller_limit(str(2**63 - 1)) == 2**63 - 1 and controller_limit(str(2**63)) is None
    for text in ("9" * 400 + "d", "99999999999999999999w", "9" * 12 + "w", "0.0000000001ns"):
        assert parse_duration(text) is None, text
    override, errors = vm_override("apps/vm", {keys.INTERVAL: "9" * 5000, keys.MAX_AGE: "9" * 400 + "d"})
    assert override.interval is None and len(errors) == 2


def test_times_past_the_representable_range_are_not_times() -> None:
    """9999-12-31T23:59:59-23:59 is year 10000 in UTC: not a time, rather than an OverflowError."""
    assert parse_time("9999-12-31T23:59:59-23:59") is None
    assert parse_time("9999-12-31T23:59:59Z") is not None


def test_interval_past_any_chain_is_kept_not_crashed() -> None:
    """The largest int64 interval is a valid (if useless) policy; the baseline writes it as text."""
    views = view_schedules(
        [schedule("s0", annotations={keys.INTERVAL: str(2**63 - 1)})], [bsl()], now=datetime(2026, 3, 2, tzinfo=UTC)
    )
    doc = parse_index(json.dumps({"checkpoints": [{"id": "a", "type": "Full", "timestamp": "2026-03-01T01:12:00Z"}]}))
    vm = VM("apps", "vm", "u", "1", {}, {}, "Running", "Enabled")
    d = decide(vm, views, compute_chain(doc, {}), now=datetime(2026, 3, 2, tzinfo=UTC))
    assert d.action is Action.KEEP
    patch = d.patch()
    assert patch is not None and patch["metadata"]["annotations"][keys.MAX_INCREMENTAL] == str(2**63 - 1)


def test_full_dated_year_zero_under_an_every_schedule() -> None:
    """Go accepts year 0000 in an index timestamp (the parser clamps it to datetime.min); the window
    of such a full under an @every schedule lies before year 1: no window, not an OverflowError."""
    doc = parse_index(
        json.dumps(
            {
                "checkpoints": [
                    {"id": "a", "type": "Full", "timestamp": "0000-01-01T00:00:00Z", "files": []},
                    {"id": "b", "type": "Incremental", "parent": "a", "timestamp": "2026-03-02T01:12:00Z", "files": []},
                ]
            }
        )
    )
    views = view_schedules(
        [
            schedule(
                "s0",
                cron="@every 36h",
                annotations={keys.INTERVAL: "5", keys.MAX_AGE: "7d"},
                last_backup=datetime(2026, 3, 3, tzinfo=UTC),
            )
        ],
        [bsl()],
        now=NOW,
    )
    vm = VM("apps", "vm", "u", "1", {}, {}, "Running", "Enabled")
    d = decide(vm, views, compute_chain(doc, {}), now=NOW)
    assert d.action is Action.FORCE_FULL and d.codes == ("age",)
