"""Why a decision is what it is (`Reason`), and what is worth a look without changing it (`PlanWarning`).

Both carry their numbers, so the plan JSON, the log line and `explain` answer from one object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

WARNING_CODES: Final = ("size-mismatch", "two-bsls", "trackers-disagree", "schedule-only-key")


@dataclass(frozen=True)
class Reason:
    code: str
    text: str
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanWarning:
    """Reason-free: a finding reported beside the decision (plan JSON `detail.warnings`), never a cause."""

    code: str  # one of WARNING_CODES
    text: str
    numbers: dict[str, Any] = field(default_factory=dict)

    def doc(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.text, **self.numbers}
