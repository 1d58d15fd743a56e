"""An RBAC authorizer with the rules of ``plugin/pkg/auth/authorizer/rbac``.

* ClusterRoleBindings grant their ClusterRole everywhere (all namespaces and cluster scope).
* RoleBindings grant a Role of their own namespace, or a ClusterRole, in their namespace only.
* A rule matches on verb, apiGroup, resource (``res``, ``res/sub``, ``*/sub`` or ``*``) and,
  when ``resourceNames`` is set, the object name (so it never matches list or create).
* ServiceAccount subjects default to the binding's namespace; Group subjects match the groups of
  the user (``system:serviceaccounts``, ``system:serviceaccounts:<ns>``, ``system:authenticated``).
* Aggregated ClusterRoles (``aggregationRule``) get the rules of the ClusterRoles they select.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from .selectors import label_selector_from_dict

RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ()

    @staticmethod
    def for_name(name: str, extra_groups: Iterable[str] = ()) -> UserInfo:
        groups: list[str] = []
        if name.startswith("system:serviceaccount:"):
            namespace = name.split(":")[2]
            groups += ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
        groups += [g for g in extra_groups if g not in groups]
        if name != "system:anonymous" and "system:authenticated" not in groups:
            groups.append("system:authenticated")
        return UserInfo(name, tuple(groups))


ANONYMOUS = UserInfo("system:anonymous", ("system:unauthenticated",))


@dataclass(frozen=True)
class Attributes:
    user: UserInfo
    verb: str
    api_group: str
    resource: str
    subresource: str
    namespace: str
    name: str


def forbidden_reason(attrs: Attributes) -> str:
    """The sentence the API server puts after ``is forbidden:``."""
    resource = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
    where = f"in the namespace {_q(attrs.namespace)}" if attrs.namespace else "at the cluster scope"
    return (
        f"User {_q(attrs.user.name)} cannot {attrs.verb} resource {_q(resource)} "
        f"in API group {_q(attrs.api_group)} {where}"
    )


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rule_allows(rule: dict[str, Any], attrs: Attributes) -> bool:
    verbs = rule.get("verbs") or []
    if "*" not in verbs and attrs.verb not in verbs:
        return False
    groups = rule.get("apiGroups") or []
    if "*" not in groups and attrs.api_group not in groups:
        return False
    combined = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
    resource_ok = False
    for res in rule.get("resources") or []:
        if res in ("*", combined) or (attrs.subresource and res == f"*/{attrs.subresource}"):
            resource_ok = True
            break
    if not resource_ok:
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


def _applies_to(subject: dict[str, Any], user: UserInfo, binding_namespace: str) -> bool:
    kind = subject.get("kind")
    if kind == "User":
        return subject.get("name") == user.name
    if kind == "Group":
        return subject.get("name") in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        if not namespace:
            return False
        return user.name == f"system:serviceaccount:{namespace}:{subject.get('name')}"
    return False


class RBACAuthorizer:
    """Holds RBAC objects and answers allow/deny questions about request attributes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.roles: dict[tuple[str, str], dict[str, Any]] = {}
        self.cluster_roles: dict[str, dict[str, Any]] = {}
        self.role_bindings: dict[tuple[str, str], dict[str, Any]] = {}
        self.cluster_role_bindings: dict[str, dict[str, Any]] = {}

    def clear(self) -> None:
        with self._lock:
            self.roles.clear()
            self.cluster_roles.clear()
            self.role_bindings.clear()
            self.cluster_role_bindings.clear()

    def load(self, *documents: dict[str, Any] | str | Iterable[dict[str, Any]]) -> int:
        """Load Roles, ClusterRoles and their bindings; other kinds are skipped.

        Accepts dicts, YAML text (several documents allowed, ``kind: List`` too) or lists of
        dicts. Returns how many RBAC objects were loaded.
        """
        loaded = 0
        for obj in _flatten(documents):
            kind = obj.get("kind")
            if kind not in RBAC_KINDS:
                continue
            meta = obj.get("metadata") or {}
            name = meta.get("name")
            if not name:
                raise ValueError(f"{kind} without metadata.name")
            namespace = meta.get("namespace") or ""
            if kind in ("Role", "RoleBinding") and not namespace:
                raise ValueError(f"{kind} {name!r} needs metadata.namespace")
            with self._lock:
                if kind == "Role":
                    self.roles[(namespace, name)] = obj
                elif kind == "ClusterRole":
                    self.cluster_roles[name] = obj
                elif kind == "RoleBinding":
                    self.role_bindings[(namespace, name)] = obj
                else:
                    self.cluster_role_bindings[name] = obj
            loaded += 1
        return loaded

    def _cluster_role_rules(self, name: str) -> list[dict[str, Any]] | None:
        role = self.cluster_roles.get(name)
        if role is None:
            return None
        rules = list(role.get("rules") or [])
        aggregation = role.get("aggregationRule") or {}
        for raw in aggregation.get("clusterRoleSelectors") or []:
            selector = label_selector_from_dict(raw)
            for other_name, other in sorted(self.cluster_roles.items()):
                if other_name == name or selector is None:
                    continue
                if selector.matches((other.get("metadata") or {}).get("labels") or {}):
                    rules.extend(other.get("rules") or [])
        return rules

    def _rules_for_ref(self, ref: dict[str, Any], namespace: str) -> tuple[list[dict[str, Any]], str]:
        kind, name = ref.get("kind"), ref.get("name", "")
        if kind == "ClusterRole":
            rules = self._cluster_role_rules(name)
            if rules is None:
                return [], f'clusterrole.rbac.authorization.k8s.io "{name}" not found'
            return rules, ""
        if kind == "Role" and namespace:
            role = self.roles.get((namespace, name))
            if role is None:
                return [], f'role.rbac.authorization.k8s.io "{name}" not found'
            return list(role.get("rules") or []), ""
        return [], f"unknown roleRef kind {kind!r}"

    def authorize(self, attrs: Attributes) -> tuple[bool, str]:
        """Return ``(allowed, reason)``; the reason lists missing roles like the real one."""
        errors: list[str] = []
        with self._lock:
            for _, binding in sorted(self.cluster_role_bindings.items()):
                if not any(_applies_to(s, attrs.user, "") for s in binding.get("subjects") or []):
                    continue
                ref = binding.get("roleRef") or {}
                if ref.get("kind") != "ClusterRole":
                    continue
                rules, error = self._rules_for_ref(ref, "")
                if error:
                    errors.append(error)
                if any(_rule_allows(rule, attrs) for rule in rules):
                    return True, ""
            if attrs.namespace:
                for (namespace, _), binding in sorted(self.role_bindings.items()):
                    if namespace != attrs.namespace:
                        continue
                    subjects = binding.get("subjects") or []
                    if not any(_applies_to(s, attrs.user, namespace) for s in subjects):
                        continue
                    rules, error = self._rules_for_ref(binding.get("roleRef") or {}, namespace)
                    if error:
                        errors.append(error)
                    if any(_rule_allows(rule, attrs) for rule in rules):
                        return True, ""
        reason = ""
        if errors:
            reason = "RBAC: " + (errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
        return False, reason


def _flatten(documents: Iterable[Any]) -> Iterable[dict[str, Any]]:
    for doc in documents:
        if doc is None:
            continue
        if isinstance(doc, str):
            yield from _flatten(list(yaml.safe_load_all(doc)))
        elif isinstance(doc, dict):
            if doc.get("kind") == "List" or (doc.get("kind", "").endswith("List") and "items" in doc):
                yield from _flatten(doc.get("items") or [])
            else:
                yield doc
        else:
            yield from _flatten(doc)
