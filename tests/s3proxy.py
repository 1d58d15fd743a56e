"""A fault proxy with rules, for the S3 fault tests: a fault for the requests a predicate picks."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from tests.s3fixtures import Fault, FaultProxy

__all__ = ["Rule", "TargetedProxy", "index_of", "is_get", "is_list"]

LIST = re.compile(r"[?&]list-type=2")


def is_list(_method: str, path: str) -> bool:
    return bool(LIST.search(path))


def is_get(_method: str, path: str) -> bool:
    return path.endswith("/index.json")


def index_of(name: str) -> Callable[[str, str], bool]:
    return lambda _m, path: path.endswith(f"/apps/{name}/index.json")


@dataclass
class Rule:
    fault: Fault
    when: Callable[[str, str], bool]
    remaining: int | None  # None: every matching request
    fired: int = 0


class TargetedProxy(FaultProxy):
    """The fault proxy with rules: a fault for the requests a predicate picks, n times or for ever."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.rules: list[Rule] = []
        self._rule_lock = threading.Lock()

    def add(
        self, fault: Fault, *, times: int | None = None, when: Callable[[str, str], bool] = lambda _m, _p: True
    ) -> Rule:
        rule = Rule(fault, when, times)
        with self._rule_lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._rule_lock:
            self.rules.clear()
        with self._lock:
            self.requests.clear()

    def _next(self, method: str, path: str) -> Fault | None:
        with self._lock:
            self.requests.append((method, path))
        with self._rule_lock:
            for rule in self.rules:
                if rule.remaining != 0 and rule.when(method, path):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    rule.fired += 1
                    return rule.fault
        return None
