"""Are (a)'s chains right? Against the damage the generator planted, and against (b)'s VM by VM."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from bench.generate import Spec, build_folder, expected_state, vm_identity
from reconciler.core.chain import Chain


def _unmeasured(chain: Chain) -> Chain:
    return replace(chain.compact(), storage=None)


def check(spec: Spec, chains_a: dict[Any, Any], chains_b: dict[Any, Any]) -> dict[str, Any]:
    """(a) against the planted kinds, and against (b) where (b) ran."""
    wrong: list[str] = []
    states: Counter[str] = Counter()
    for i in range(spec.vms):
        ns, name, kind = vm_identity(spec, i)
        if kind == "orphan":
            continue
        chain = chains_a.get((ns, name))
        state = str(chain.state) if chain is not None else "missing from plan"
        states[state] += 1
        if chain is None or state != expected_state(kind):
            wrong.append(f"{ns}/{name}: {kind} but {state}")
            continue
        if kind == "missing":
            damaged = build_folder(spec, i).damaged
            if not any(p.object_path == damaged and "missing" in p.problem for p in chain.problems):
                wrong.append(f"{ns}/{name}: problems {[str(p) for p in chain.problems]} do not name {damaged}")
        if kind == "size":
            damaged = build_folder(spec, i).damaged
            if not any(m.object_path == damaged for m in chain.mismatches):
                wrong.append(f"{ns}/{name}: size warnings {[str(m) for m in chain.mismatches]} do not name {damaged}")
        other = chains_b.get((ns, name))
        # The plan keeps compact chains (summary, root, latest, problems): compare those. Not their
        # storage: (b) sees only the chain's own objects, never the folder, so it has no folder figures.
        if other is not None and (other.state, other.problems, _unmeasured(other)) != (
            chain.state,
            chain.problems,
            _unmeasured(chain),
        ):
            wrong.append(f"{ns}/{name}: (a) {chain.state} {chain.problems} but (b) {other.state} {other.problems}")
    return {"states": dict(states), "disagreements": wrong[:10], "disagreement_count": len(wrong)}
