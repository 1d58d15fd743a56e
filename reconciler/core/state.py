"""Ownership of the VM annotation (design 5): what the job records, and what it wants on the VM.

The job owns `max-incremental-backups` only on VMs under a policy. Before it first writes, it
records the value it found in the state annotation, so any later run — or a person reading the
VM alone — can give the VM back exactly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from reconciler.core import keys


@dataclass(frozen=True)
class OwnerState:
    original: str | None = None
    forced_at: str | None = None
    forced_root: str | None = None
    reasons: tuple[str, ...] = ()
    # The signal annotation (design 6.4): owned while the job holds it at "true", with the value found
    # before. Written as "signalOriginal" only while owned, so states of runs without the signal
    # (and of older versions) keep their exact text.
    signal_owned: bool = False
    signal_original: str | None = None

    @property
    def forcing(self) -> bool:
        return self.forced_root is not None

    def dump(self) -> str:
        """Compact JSON with the keys in the documented order: stable text, so re-runs compare equal."""
        doc: dict[str, Any] = {
            "original": self.original,
            "forcedAt": self.forced_at,
            "forcedRoot": self.forced_root,
            "reasons": list(self.reasons),
        }
        if self.signal_owned:
            doc["signalOriginal"] = self.signal_original
        return json.dumps(
            doc,
            separators=(",", ":"),
            ensure_ascii=False,
        )


def parse_state(text: str) -> OwnerState | str:
    """The state annotation, or an error message naming what is wrong with it."""
    try:
        raw: Any = json.loads(text)
    except ValueError as exc:
        return f"not JSON ({exc})"
    except RecursionError:
        return "not JSON (nested too deeply)"
    if not isinstance(raw, dict):
        return "expected a JSON object"
    original, forced_at, root, reasons = (
        raw.get("original"),
        raw.get("forcedAt"),
        raw.get("forcedRoot"),
        raw.get("reasons", []),
    )
    signal = raw.get("signalOriginal")  # absent in states written without the signal
    checks = (("original", original), ("forcedAt", forced_at), ("forcedRoot", root), ("signalOriginal", signal))
    for name, value in checks:
        if value is not None and not isinstance(value, str):
            return f"{name}: expected string or null, got {type(value).__name__}"
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        return "reasons: expected a list of strings"
    return OwnerState(original, forced_at, root, tuple(reasons), "signalOriginal" in raw, signal)


SIGNAL_ON = "true"

_GO_INT = re.compile(r"[+-]?[0-9]+")
_INT64_MAX = (1 << 63) - 1


def controller_limit(value: str | None) -> int | None:
    """The limit the controller reads from the VM annotation: None where it ignores the value."""
    if value is None or not _GO_INT.fullmatch(value) or len(value.lstrip("+-").lstrip("0")) > 19:
        return None
    number = int(value)
    return number if 0 <= number <= _INT64_MAX else None  # strconv.ParseInt(s, 10, 64) fails beyond int64


def baseline(original: str | None, interval: int | None, *, global_limit: int | None = 0) -> str | None:
    """The annotation value between forced fulls (design 5): never looser than the controller without the job.

    The count policy N, so the controller enforces it even between runs of this job — unless the
    limit the controller would apply without the job is stricter: the VM's own value where it is
    a number the controller accepts (then kept as written), else the global `global_limit`
    (None: unknown). Where that limit is unknown, the VM keeps its own value: a baseline could be
    looser than a global value nobody could read. Without a count policy, the value found (None:
    no annotation).
    """
    if interval is None:
        return original
    own = controller_limit(original)
    if own is not None:
        return original if 0 < own < interval else str(interval)
    if global_limit is None:
        return original
    return str(global_limit) if 0 < global_limit < interval else str(interval)


@dataclass(frozen=True)
class Desired:
    """The job's wishes for the keys it may touch; None means "absent".

    `value_only`: only `max-incremental-backups` is wished for; the state annotation and the label
    stay as they are, whatever they hold.
    """

    max_incremental: str | None
    state: OwnerState | None
    due_label: bool
    value_only: bool = False
    signal: str | None = None  # the signal annotation's wished value, where `signal_touch`
    signal_touch: bool = False  # False: the signal annotation is left as it is

    @classmethod
    def value(cls, max_incremental: str | None) -> Desired:
        return cls(max_incremental, None, due_label=False, value_only=True)

    def annotations(self) -> dict[str, str | None]:
        if self.value_only:
            return {keys.MAX_INCREMENTAL: self.max_incremental}
        wished = {
            keys.MAX_INCREMENTAL: self.max_incremental,
            keys.STATE: self.state.dump() if self.state is not None else None,
        }
        if self.signal_touch:
            wished[keys.FORCE_SIGNAL] = self.signal
        return wished

    def signalled(self, *, owner: OwnerState | None, found: str | None, on: bool) -> Desired:
        """These wishes with the signal annotation (design 6.4) set to "true" (`on`), or given back.

        `on`: "true", and the state records the value found before the job took the annotation
        over (kept from `owner` while it holds it; else `found`, the VM's current value). Not on:
        where `owner` holds the annotation, its recorded value is put back (None: removed) and the
        state forgets it; otherwise the annotation is not touched at all.
        """
        owned = owner is not None and owner.signal_owned
        if on:
            original = owner.signal_original if owner is not None and owned else found
            state = None if self.state is None else replace(self.state, signal_owned=True, signal_original=original)
            return replace(self, state=state, signal=SIGNAL_ON, signal_touch=True)
        if owner is None or not owned:
            return self
        state = None if self.state is None else replace(self.state, signal_owned=False, signal_original=None)
        return replace(self, state=state, signal=owner.signal_original, signal_touch=True)

    def labels(self) -> dict[str, str | None]:
        return {} if self.value_only else {keys.DUE_LABEL: "true" if self.due_label else None}


def merge_patch(
    *,
    annotations: Mapping[str, str],
    labels: Mapping[str, str],
    desired: Desired,
    resource_version: str,
) -> dict[str, Any] | None:
    """The merge-patch body that moves the VM to `desired`, or None when it is already there.

    Only keys that differ are sent; `resourceVersion` makes the server refuse the write (409) if
    the VM changed since it was read.
    """
    meta: dict[str, Any] = {}
    ann = {k: v for k, v in desired.annotations().items() if annotations.get(k) != v}
    lab = {k: v for k, v in desired.labels().items() if labels.get(k) != v}
    if ann:
        meta["annotations"] = ann
    if lab:
        meta["labels"] = lab
    if not meta:
        return None
    meta["resourceVersion"] = resource_version
    return {"metadata": meta}
