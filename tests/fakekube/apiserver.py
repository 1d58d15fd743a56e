"""REST semantics of the API server: routing, CRUD, patching, validation, lists and paging.

This module knows nothing about sockets; :mod:`.server` feeds it parsed requests.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import yaml

from . import status as st
from .patching import PatchError, PatchFormatError, json_patch, merge_patch
from .resources import (
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    ResourceType,
)
from .selectors import (
    FieldSelector,
    LabelSelector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from .store import Key, Store, key_string
from .validation import (
    decode_error,
    format_time,
    is_valid_path_segment_name,
    normalise_times,
    validate_event,
    validate_object_meta,
    validate_object_meta_update,
)

NAMESPACE_SUBRESOURCES = ("status", "finalize")
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
GENERATE_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

_CONTINUE_INCONSISTENT = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted between "
    "the time the first chunk was returned and now may show up in the list."
)


@dataclass
class RequestInfo:
    """What ``RequestInfoFactory`` derives from a URL: the basis for routing and authorization."""

    method: str
    path: str
    query: dict[str, list[str]]
    is_resource: bool = False
    verb: str = ""
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: list[str] = field(default_factory=list)
    # Name used for authorization: for list/watch a fieldSelector metadata.name=x counts.
    authz_name: str = ""

    def param(self, key: str, default: str = "") -> str:
        values = self.query.get(key)
        return values[-1] if values else default


def parse_request_info(method: str, path: str, raw_query: str) -> RequestInfo:
    query = parse_qs(raw_query, keep_blank_values=True)
    info = RequestInfo(method=method.upper(), path=path, query=query)
    parts = [p for p in path.strip("/").split("/") if p]
    verbs = {
        "POST": "create",
        "GET": "get",
        "HEAD": "get",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete",
    }
    info.verb = verbs.get(info.method, info.method.lower())
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return info
    info.api_prefix = parts[0]
    rest = parts[1:]
    if info.api_prefix == "apis":
        if len(rest) < 3:
            return info
        info.api_group, rest = rest[0], rest[1:]
    info.is_resource = True
    info.api_version, rest = rest[0], rest[1:]
    if rest and rest[0] == "namespaces" and len(rest) > 1:
        info.namespace = rest[1]
        if len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    info.parts = rest
    if len(rest) >= 3:
        info.subresource = rest[2]
    if len(rest) >= 2:
        info.name = rest[1]
    if rest:
        info.resource = rest[0]
    info.authz_name = info.name
    if not info.name and info.verb == "get":
        info.verb = "watch" if info.param("watch") in ("true", "1") else "list"
        raw_selector = info.param("fieldSelector")
        if raw_selector:
            try:
                wanted = parse_field_selector(raw_selector).requires_exact_match("metadata.name")
            except SelectorError:
                wanted = None
            if wanted and not is_valid_path_segment_name(wanted):
                info.authz_name = wanted
    if not info.name and info.verb == "delete":
        info.verb = "deletecollection"
    return info


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    detail: str = ""


def _json_compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _same(a: Any, b: Any) -> bool:
    return _json_compact(a) == _json_compact(b)


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        obj["metadata"] = meta
    return meta


def encode_continue(rv: int, start: str) -> str:
    token = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    """Decode a continue token or raise ``ValueError`` with the server's message."""
    generic = "continue key is not valid"
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{generic}: illegal base64 data: {exc}") from None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{generic}: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{generic}: json: cannot unmarshal into Go value of type storage.continueToken")
    if data.get("v") != "meta.k8s.io/v1":
        raise ValueError(f"{generic}: server does not recognize this encoded version {data.get('v')}")
    rv = data.get("rv")
    if not isinstance(rv, int) or rv == 0:
        raise ValueError(f"{generic}: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    start = data.get("start")
    if not isinstance(start, str) or not start:
        raise ValueError(f"{generic}: encoded start key empty (version meta.k8s.io/v1)")
    return rv, start


class ApiServer:
    """The resource-serving core shared by all HTTP handler threads."""

    def __init__(
        self,
        resources: list[ResourceType],
        *,
        clock: Callable[[], datetime] | None = None,
        strict_namespaces: bool = True,
        version: Mapping[str, str] | None = None,
    ) -> None:
        self.store = Store()
        self.resources: list[ResourceType] = []
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.strict_namespaces = strict_namespaces
        self.version = dict(
            version
            or {
                "major": "1",
                "minor": "34",
                "gitVersion": "v1.34.0",
                "gitCommit": "0000000000000000000000000000000000000000",
                "gitTreeState": "clean",
                "buildDate": "2025-08-27T00:00:00Z",
                "goVersion": "go1.24.6",
                "compiler": "gc",
                "platform": "linux/amd64",
            }
        )
        for rt in resources:
            self.register(rt)
        self.reset()

    # ------------------------------------------------------------------ setup

    def register(self, rt: ResourceType) -> None:
        self.resources = [
            r for r in self.resources if (r.group, r.version, r.plural) != (rt.group, rt.version, rt.plural)
        ]
        self.resources.append(rt)

    def reset(self) -> None:
        with self.store.lock:
            self.store.clear()
            for name in DEFAULT_NAMESPACES:
                self._ensure_namespace(name)

    def resolve(self, group: str, version: str, plural: str) -> ResourceType | None:
        for rt in self.resources:
            if (rt.group, rt.version, rt.plural) == (group, version, plural):
                return rt
        return None

    def resolve_ref(self, ref: str) -> ResourceType:
        """Find a type by plural, ``plural.group``, kind, singular or short name."""
        candidates = []
        for rt in self.resources:
            names = {rt.plural, rt.singular, rt.kind.lower(), *rt.short_names}
            qualified = {f"{n}.{rt.group}" for n in names} if rt.group else set()
            if ref.lower() in names or ref in qualified or ref == rt.kind:
                candidates.append(rt)
        if not candidates:
            raise KeyError(f"unknown resource {ref!r}")
        # "events" names both core/v1 and events.k8s.io/v1 (one storage); prefer core.
        candidates.sort(key=lambda r: (r.group != "", r.group))
        return candidates[0]

    def resolve_kind(self, api_version: str, kind: str) -> ResourceType:
        for rt in self.resources:
            if rt.api_version == api_version and rt.kind == kind:
                return rt
        raise KeyError(f"unknown apiVersion/kind {api_version}/{kind}")

    def now(self) -> str:
        return format_time(self.clock())

    def _ensure_namespace(self, name: str) -> None:
        ns_type = self.resolve("", "v1", "namespaces")
        if ns_type is None or self.store.get(ns_type.storage_key, ("", name)) is not None:
            return
        obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        self._prepare_for_create(ns_type, obj)
        self._fill_system_fields(obj)
        self.store.put(ns_type.storage_key, ("", name), obj)

    # ----------------------------------------------------------- conversions

    def to_wire(self, rt: ResourceType, stored: dict[str, Any]) -> dict[str, Any]:
        obj = rt.from_storage(stored) if rt.from_storage else copy.deepcopy(stored)
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        return obj

    def _from_wire(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        stored = rt.to_storage(obj) if rt.to_storage else copy.deepcopy(obj)
        stored["apiVersion"] = "v1" if rt.to_storage else rt.api_version
        stored["kind"] = rt.kind
        return stored

    def _storage_type(self, rt: ResourceType) -> ResourceType:
        """The type whose representation is stored (core/v1 for events.k8s.io events)."""
        if rt.to_storage is None:
            return rt
        for other in self.resources:
            if other.storage_key == rt.storage_key and other.to_storage is None:
                return other
        return rt

    # -------------------------------------------------------------- dispatch

    def handle(self, info: RequestInfo, headers: Mapping[str, str], body: bytes) -> Response:
        try:
            if not info.is_resource:
                return self._non_resource(info)
            return self._resource(info, headers, body)
        except st.ApiError as err:
            return Response(err.code, err.status, err.headers, err.detail)

    def _non_resource(self, info: RequestInfo) -> Response:
        parts = [p for p in info.path.strip("/").split("/") if p]
        if info.method not in ("GET", "HEAD"):
            raise st.method_not_allowed()
        if parts == ["version"]:
            return Response(200, self.version)
        if parts and parts[0] in ("healthz", "readyz", "livez"):
            return Response(200, "ok")
        if parts == ["api"]:
            return Response(
                200,
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}],
                },
            )
        if parts == ["api", "v1"]:
            return Response(200, self._resource_list("", "v1"))
        if parts == ["apis"]:
            return Response(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": self._groups()})
        if len(parts) == 2 and parts[0] == "apis":
            for group in self._groups():
                if group["name"] == parts[1]:
                    return Response(200, {"kind": "APIGroup", "apiVersion": "v1", **group})
        if (
            len(parts) == 3
            and parts[0] == "apis"
            and any(r.group == parts[1] and r.version == parts[2] for r in self.resources)
        ):
            return Response(200, self._resource_list(parts[1], parts[2]))
        raise st.path_not_found()

    def _groups(self) -> list[dict[str, Any]]:
        groups: dict[str, list[str]] = {}
        for rt in self.resources:
            if rt.group and rt.version not in groups.setdefault(rt.group, []):
                groups[rt.group].append(rt.version)
        out = []
        for name, versions in groups.items():
            listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
            out.append({"name": name, "versions": listed, "preferredVersion": listed[0]})
        return out

    def _resource_list(self, group: str, version: str) -> dict[str, Any]:
        resources: list[dict[str, Any]] = []
        for rt in self.resources:
            if (rt.group, rt.version) != (group, version):
                continue
            entry: dict[str, Any] = {
                "name": rt.plural,
                "singularName": rt.singular,
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": rt.verbs,
            }
            if rt.short_names:
                entry["shortNames"] = list(rt.short_names)
            resources.append(entry)
            if rt.status_subresource:
                resources.append(
                    {
                        "name": f"{rt.plural}/status",
                        "singularName": "",
                        "namespaced": rt.namespaced,
                        "kind": rt.kind,
                        "verbs": ["get", "patch", "update"],
                    }
                )
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    def route(self, info: RequestInfo) -> ResourceType:
        """The resource type a resource request addresses, or a 404/405 like the real routes."""
        rt = self.resolve(info.api_group, info.api_version, info.resource)
        if rt is None or len(info.parts) > 3:
            raise st.path_not_found()
        if info.subresource and not (
            info.subresource == "status" and (rt.status_subresource or rt.plural == "namespaces")
        ):
            raise st.path_not_found()
        if rt.namespaced:
            if not info.namespace and info.name:
                raise st.path_not_found()
            if not info.namespace and info.verb not in ("list", "watch"):
                raise st.method_not_allowed()
        elif info.namespace and rt.plural != "namespaces":
            raise st.path_not_found()
        if info.subresource and info.verb not in ("get", "update", "patch"):
            raise st.method_not_allowed()
        return rt

    def _resource(self, info: RequestInfo, headers: Mapping[str, str], body: bytes) -> Response:
        rt = self.route(info)
        self._check_dry_run(info)
        namespace = info.namespace if rt.namespaced else ""
        if info.verb == "get":
            return Response(200, self.to_wire(rt, self._get(rt, namespace, info.name)))
        if info.verb == "list":
            return Response(200, self._list(rt, info, namespace))
        if info.verb == "watch":
            raise st.method_not_supported(rt.group, rt.plural, "watch")
        if info.verb == "create":
            return self._create(rt, info, namespace, headers, body)
        if info.verb == "update":
            return self._update(rt, info, namespace, headers, body)
        if info.verb == "patch":
            return self._patch(rt, info, namespace, headers, body)
        if info.verb == "delete":
            return self._delete(rt, info, namespace, body)
        if info.verb == "deletecollection":
            return self._delete_collection(rt, info, namespace)
        raise st.method_not_allowed()

    # ------------------------------------------------------------- helpers

    def _check_dry_run(self, info: RequestInfo) -> None:
        values = info.query.get("dryRun") or []
        bad = [v for v in values if v != "All"]
        if bad:
            kind = {
                "create": "CreateOptions",
                "update": "UpdateOptions",
                "patch": "PatchOptions",
            }.get(info.verb, "DeleteOptions")
            raise st.invalid(
                "meta.k8s.io",
                kind,
                "",
                [st.FieldError("FieldValueNotSupported", "dryRun", values, 'supported values: "All"')],
            )

    @staticmethod
    def _dry_run(info: RequestInfo) -> bool:
        return "All" in (info.query.get("dryRun") or [])

    def _get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        obj = self.store.get(rt.storage_key, (namespace, name))
        if obj is None:
            raise st.not_found(rt.group, rt.plural, name)
        return obj

    def _decode_body(self, rt: ResourceType, headers: Mapping[str, str], body: bytes) -> Any:
        content_type = (headers.get("content-type") or "application/json").split(";")[0].strip().lower()
        if content_type not in ("application/json", "application/yaml"):
            raise st.unsupported_media_type(rt.body_types)
        try:
            text = body.decode("utf-8")
            if content_type == "application/yaml":
                return yaml.safe_load(text)
            return json.loads(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise st.bad_request(self._cannot_handle(rt, f"json parse error: {exc}")) from None

    @staticmethod
    def _cannot_handle(rt: ResourceType, why: str) -> str:
        return f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {why}'

    def _check_decodable(self, rt: ResourceType, obj: Any) -> None:
        """Mimic Go decoding of a POST/PUT body: type errors are 400 BadRequest."""
        error = decode_error(obj, typed=rt.typed, time_fields=dict(rt.time_fields))
        if error:
            raise st.bad_request(self._cannot_handle(rt, error))
        assert isinstance(obj, dict)
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if api_version and api_version != rt.api_version:
            raise st.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({rt.api_version})"
            )
        if kind and kind != rt.kind:
            raise st.bad_request(
                f"the object provided is unrecognized (must be of type {rt.kind}): Object 'Kind' is {kind!r}"
            )
        self._check_type_specific(rt, obj)

    def _check_type_specific(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        if rt.kind == "Secret" and not rt.group:
            data = obj.get("data") or {}
            if not isinstance(data, dict):
                raise st.bad_request(self._cannot_handle(rt, "json: cannot unmarshal into map[string][]byte"))
            for value in data.values():
                if value is None:
                    continue
                try:
                    base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError, TypeError):
                    bad = next((i for i, c in enumerate(str(value)) if not (c.isalnum() or c in "+/=")), 0)
                    raise st.bad_request(self._cannot_handle(rt, f"illegal base64 data at input byte {bad}")) from None

    def _fill_system_fields(self, obj: dict[str, Any]) -> None:
        meta = _meta(obj)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = self.now()
        for key in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(key, None)

    def _prepare_for_create(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        meta = _meta(obj)
        if rt.custom:
            if rt.status_subresource:
                obj.pop("status", None)
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if rt.plural == "namespaces" and not rt.group:
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta.get("name", "")
        if rt.kind == "Secret" and not rt.group:
            obj.setdefault("type", "Opaque")
            self._fold_string_data(obj)

    @staticmethod
    def _fold_string_data(obj: dict[str, Any]) -> None:
        string_data = obj.pop("stringData", None) or {}
        if string_data:
            data = obj.setdefault("data", {}) or {}
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            obj["data"] = data

    def _validate(
        self,
        rt: ResourceType,
        obj: dict[str, Any],
        old: dict[str, Any] | None = None,
    ) -> None:
        meta = _meta(obj)
        errs = []
        if rt.storage_key == "events":
            errs.extend(validate_event(obj, strict=rt.strict_event_validation and old is None))
        if not (rt.strict_event_validation and old is None):
            errs.extend(validate_object_meta(meta, namespaced=rt.namespaced, name_rule=rt.name_rule))
        if old is not None:
            errs.extend(validate_object_meta_update(meta, _meta(old)))
        if errs:
            raise st.invalid(rt.group, rt.kind, meta.get("name") or "", errs)

    def _check_namespace_exists(self, rt: ResourceType, namespace: str) -> None:
        if not rt.namespaced or not self.strict_namespaces:
            return
        if self.store.get("namespaces", ("", namespace)) is None:
            raise st.not_found("", "namespaces", namespace)

    def _generate_name(self, base: str) -> str:
        base = base[:58]
        return base + "".join(secrets.choice(GENERATE_NAME_ALPHABET) for _ in range(5))

    # ---------------------------------------------------------------- create

    def _create(
        self,
        rt: ResourceType,
        info: RequestInfo,
        namespace: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response:
        if info.name:
            raise st.method_not_allowed()
        wire = self._decode_body(rt, headers, body)
        self._check_decodable(rt, wire)
        obj = self._from_wire(rt, wire)
        meta = _meta(obj)
        self._ensure_request_namespace(meta, namespace)
        if meta.get("resourceVersion"):
            raise st.internal_error("resourceVersion should not be set on objects to be created")
        for system_field in (
            "uid",
            "creationTimestamp",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ):
            meta.pop(system_field, None)
        generated = bool(meta.get("generateName")) and not meta.get("name")
        if generated:
            meta["name"] = self._generate_name(meta["generateName"])
        self._prepare_for_create(rt, obj)
        self._validate(rt, obj)
        with self.store.lock:
            self._check_namespace_exists(rt, namespace)
            key: Key = (namespace, meta["name"])
            # Like the real server, retry a generated name that happens to be taken.
            for _ in range(8):
                if not generated or self.store.get(rt.storage_key, key) is None:
                    break
                meta["name"] = self._generate_name(meta["generateName"])
                key = (namespace, meta["name"])
            if self.store.get(rt.storage_key, key) is not None:
                raise st.already_exists(rt.group, rt.plural, meta["name"])
            self._fill_system_fields(obj)
            normalise_times(obj, dict(self._storage_type(rt).time_fields))
            if self._dry_run(info):
                obj["metadata"]["resourceVersion"] = ""
                return Response(201, self.to_wire(rt, obj))
            self.store.put(rt.storage_key, key, obj)
            stored = self.store.get(rt.storage_key, key)
        assert stored is not None
        return Response(201, self.to_wire(rt, stored))

    @staticmethod
    def _ensure_request_namespace(meta: dict[str, Any], namespace: str) -> None:
        object_ns = meta.get("namespace") or ""
        if object_ns == namespace:
            return
        if not object_ns:
            meta["namespace"] = namespace
        elif not namespace:
            meta.pop("namespace", None)
        else:
            raise st.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )

    # ---------------------------------------------------------------- update

    def _update(
        self,
        rt: ResourceType,
        info: RequestInfo,
        namespace: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response:
        wire = self._decode_body(rt, headers, body)
        self._check_decodable(rt, wire)
        obj = self._from_wire(rt, wire)
        meta = _meta(obj)
        if (meta.get("name") or "") != info.name:
            raise st.bad_request(
                f"the name of the object ({meta.get('name') or ''}) does not match the name on the URL ({info.name})"
            )
        object_ns = meta.get("namespace") or ""
        if namespace and object_ns and object_ns != namespace:
            raise st.bad_request(
                f"the namespace of the object ({object_ns}) does not match the namespace on the request ({namespace})"
            )
        self._ensure_request_namespace(meta, namespace)
        with self.store.lock:
            current = self._get(rt, namespace, info.name)
            rv = meta.get("resourceVersion") or ""
            if not rv:
                if not rt.allow_unconditional_update:
                    raise self._rv_required(rt, info.name)
                meta["resourceVersion"] = current["metadata"]["resourceVersion"]
            elif rv != current["metadata"]["resourceVersion"]:
                raise st.conflict(rt.group, rt.plural, info.name)
            return self._commit_update(rt, info, namespace, obj, current)

    @staticmethod
    def _rv_required(rt: ResourceType, name: str) -> st.ApiError:
        return st.invalid(
            rt.group,
            rt.plural,
            name,
            [st.invalid_value("metadata.resourceVersion", 0, "must be specified for an update")],
        )

    def _prepare_for_update(
        self, rt: ResourceType, subresource: str, new: dict[str, Any], old: dict[str, Any]
    ) -> dict[str, Any]:
        if subresource == "status":
            merged = copy.deepcopy(old)
            if "status" in new:
                merged["status"] = new["status"]
            else:
                merged.pop("status", None)
            return merged
        meta, old_meta = _meta(new), _meta(old)
        if not meta.get("uid"):
            meta["uid"] = old_meta.get("uid")
        for key in (
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        meta.pop("selfLink", None)
        if rt.custom:
            if rt.status_subresource:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
            ignored = ("metadata", "status") if rt.status_subresource else ("metadata",)
            spec_new = {k: v for k, v in new.items() if k not in ignored}
            spec_old = {k: v for k, v in old.items() if k not in ignored}
            if not _same(spec_new, spec_old):
                meta["generation"] = int(old_meta.get("generation") or 0) + 1
        if rt.plural == "namespaces" and not rt.group:
            new["spec"] = old.get("spec", {})
            new["status"] = old.get("status", {})
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta.get("name", "")
        if rt.kind == "Secret" and not rt.group:
            new.setdefault("type", old.get("type", "Opaque"))
            self._fold_string_data(new)
        return new

    def _commit_update(
        self,
        rt: ResourceType,
        info: RequestInfo,
        namespace: str,
        obj: dict[str, Any],
        current: dict[str, Any],
    ) -> Response:
        """Shared tail of PUT and PATCH: system fields, validation, finalizers, write."""
        new = self._prepare_for_update(rt, info.subresource, obj, current)
        self._validate(rt, new, current)
        normalise_times(new, dict(self._storage_type(rt).time_fields))
        key: Key = (namespace, info.name)
        new_meta = _meta(new)
        if new_meta.get("deletionTimestamp") and not new_meta.get("finalizers"):
            if not self._dry_run(info):
                self.store.put(rt.storage_key, key, None)
            return Response(200, self.to_wire(rt, new))
        if _same(new, current) or self._dry_run(info):
            return Response(200, self.to_wire(rt, new))
        self.store.put(rt.storage_key, key, new)
        stored = self.store.get(rt.storage_key, key)
        assert stored is not None
        return Response(200, self.to_wire(rt, stored))

    # ----------------------------------------------------------------- patch

    def _patch(
        self,
        rt: ResourceType,
        info: RequestInfo,
        namespace: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response:
        content_type = (headers.get("content-type") or "").split(";")[0].strip().lower()
        if content_type not in rt.patch_types:
            raise st.unsupported_media_type(rt.patch_types)
        if content_type == APPLY_PATCH:
            raise st.ApiError(
                st.failure(
                    415,
                    "UnsupportedMediaType",
                    "server-side apply (application/apply-patch+yaml) is not implemented by this fake API server",
                )
            )
        if info.param("force"):
            raise st.invalid(
                "meta.k8s.io",
                "PatchOptions",
                "",
                [st.forbidden_field("force", "may not be specified for non-apply patch")],
            )
        try:
            patch = json.loads(body.decode("utf-8") or "null")
        except ValueError as exc:
            if content_type == MERGE_PATCH:
                raise st.bad_request("Invalid JSON Patch") from None
            raise st.bad_request(str(exc)) from None
        with self.store.lock:
            current = self._get(rt, namespace, info.name)
            wire_current = self.to_wire(rt, current)
            try:
                if content_type == JSON_PATCH:
                    patched = json_patch(wire_current, patch)
                elif content_type == STRATEGIC_MERGE_PATCH and not isinstance(patch, dict):
                    kind = "array" if isinstance(patch, list) else "string"
                    raise st.bad_request(
                        f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
                    )
                else:
                    if patch is None:
                        raise st.bad_request("Invalid JSON Patch")
                    patched = merge_patch(wire_current, patch)
            except PatchFormatError as exc:
                raise st.bad_request(str(exc)) from None
            except PatchError as exc:
                raise st.generic(422, str(exc)) from None
            error = decode_error(patched, typed=rt.typed, time_fields=dict(rt.time_fields))
            if error:
                raise st.invalid(
                    "",
                    "",
                    "",
                    [st.invalid_value("patch", _json_compact(patched), error)],
                    detail=error,
                )
            assert isinstance(patched, dict)
            meta = _meta(patched)
            object_ns = meta.get("namespace") or ""
            if rt.namespaced and object_ns and object_ns != namespace:
                raise st.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            if (meta.get("name") or "") != info.name:
                raise st.bad_request(
                    f"the name of the object ({meta.get('name') or ''}) does not match the name on "
                    f"the URL ({info.name})"
                )
            rv = meta.get("resourceVersion") or ""
            if not rv:
                if not rt.allow_unconditional_update:
                    raise self._rv_required(rt, info.name)
                meta["resourceVersion"] = current["metadata"]["resourceVersion"]
            elif rv != current["metadata"]["resourceVersion"]:
                raise st.conflict(rt.group, rt.plural, info.name)
            obj = self._from_wire(rt, patched)
            return self._commit_update(rt, info, namespace, obj, current)

    # ---------------------------------------------------------------- delete

    def _delete(self, rt: ResourceType, info: RequestInfo, namespace: str, body: bytes) -> Response:
        options: dict[str, Any] = {}
        if body.strip():
            try:
                options = json.loads(body.decode("utf-8")) or {}
            except ValueError as exc:
                raise st.bad_request(str(exc)) from None
        preconditions = options.get("preconditions") or {}
        dry_run = self._dry_run(info) or "All" in (options.get("dryRun") or [])
        with self.store.lock:
            current = self._get(rt, namespace, info.name)
            meta = _meta(current)
            uid = preconditions.get("uid")
            if uid is not None and uid != meta.get("uid"):
                raise st.conflict(
                    rt.group,
                    rt.plural,
                    info.name,
                    f"Precondition failed: UID in precondition: {uid}, UID in object meta: {meta.get('uid')}",
                )
            rv = preconditions.get("resourceVersion")
            if rv is not None and rv != meta.get("resourceVersion"):
                raise st.conflict(
                    rt.group,
                    rt.plural,
                    info.name,
                    f"Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion "
                    f"in object meta: {meta.get('resourceVersion')}",
                )
            if dry_run:
                return self._deleted_response(rt, current)
            return self._delete_object(rt, namespace, info.name, current)

    def _delete_object(self, rt: ResourceType, namespace: str, name: str, current: dict[str, Any]) -> Response:
        meta = _meta(current)
        key: Key = (namespace, name)
        if meta.get("finalizers"):
            if not meta.get("deletionTimestamp"):
                if int(meta.get("generation") or 0) > 0:
                    meta["generation"] = int(meta["generation"]) + 1
                meta["deletionTimestamp"] = self.now()
                meta["deletionGracePeriodSeconds"] = 0
                self.store.put(rt.storage_key, key, current)
                current = self._get(rt, namespace, name)
            return Response(200, self.to_wire(rt, current))
        if rt.plural == "namespaces" and not rt.group:
            for other in self.resources:
                if not other.namespaced or other.to_storage is not None:
                    continue
                for (obj_ns, obj_name), _ in self.store.list(other.storage_key, name):
                    self.store.put(other.storage_key, (obj_ns, obj_name), None)
            meta["deletionTimestamp"] = self.now()
            current["status"] = {"phase": "Terminating"}
        self.store.put(rt.storage_key, key, None)
        return self._deleted_response(rt, current)

    def _deleted_response(self, rt: ResourceType, current: dict[str, Any]) -> Response:
        if rt.return_deleted_object:
            return Response(200, self.to_wire(rt, current))
        meta = _meta(current)
        details: dict[str, Any] = {"name": meta.get("name", "")}
        if rt.group:
            details["group"] = rt.group
        details["kind"] = rt.plural
        details["uid"] = meta.get("uid", "")
        return Response(200, st.success(details))

    def _delete_collection(self, rt: ResourceType, info: RequestInfo, namespace: str) -> Response:
        labels, fields = self._selectors(rt, info)
        deleted = []
        with self.store.lock:
            for (obj_ns, obj_name), obj in self.store.list(rt.storage_key, namespace or None):
                if not self._matches(rt, obj, labels, fields):
                    continue
                if not self._dry_run(info):
                    self._delete_object(rt, obj_ns, obj_name, obj)
                deleted.append(self._list_item(rt, obj))
            revision = self.store.revision
        return Response(
            200,
            {
                "kind": rt.list_kind,
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(revision)},
                "items": deleted,
            },
        )

    # ------------------------------------------------------------------ list

    def _selectors(self, rt: ResourceType, info: RequestInfo) -> tuple[LabelSelector, FieldSelector]:
        try:
            labels = parse_label_selector(info.param("labelSelector"))
            fields = parse_field_selector(info.param("fieldSelector"))
        except SelectorError as exc:
            raise st.bad_request(str(exc)) from None
        known = rt.all_field_labels()
        for req in fields.requirements:
            if req.field not in known:
                raise st.bad_request(rt.field_error.format(label=req.field))
        return labels, fields.transform(lambda label: known[label])

    @staticmethod
    def _matches(rt: ResourceType, obj: dict[str, Any], labels: LabelSelector, fields: FieldSelector) -> bool:
        meta = obj.get("metadata") or {}
        if not labels.matches(meta.get("labels") or {}):
            return False
        return fields.matches(lambda label: rt.field_getter(obj, label))

    def _list_item(self, rt: ResourceType, stored: dict[str, Any]) -> dict[str, Any]:
        item = self.to_wire(rt, stored)
        if not rt.custom:
            # Items of built-in typed lists carry no apiVersion/kind on the wire.
            item.pop("apiVersion", None)
            item.pop("kind", None)
        return item

    def _list(self, rt: ResourceType, info: RequestInfo, namespace: str) -> dict[str, Any]:
        labels, fields = self._selectors(rt, info)
        token = info.param("continue")
        requested_rv = info.param("resourceVersion")
        try:
            limit = int(info.param("limit") or 0)
        except ValueError:
            raise st.bad_request(f"strconv.ParseInt: parsing {info.param('limit')!r}: invalid syntax") from None
        if token and requested_rv and requested_rv != "0":
            raise st.bad_request("specifying resource version is not allowed when using continue")
        with self.store.lock:
            at = self.store.revision
            start = ""
            if token:
                try:
                    token_rv, start = decode_continue(token)
                except ValueError as exc:
                    raise st.bad_request(f"invalid continue token: {exc}") from None
                if token_rv == -1:
                    token_rv = self.store.revision
                if token_rv < self.store.compacted:
                    raise st.expired(_CONTINUE_INCONSISTENT, encode_continue(-1, start))
                at = token_rv
            entries = self.store.list(rt.storage_key, namespace or None, at)
        entries = [e for e in entries if key_string(e[0]) >= start] if start else entries
        items: list[dict[str, Any]] = []
        has_more = False
        last_key = ""
        index = 0
        for index, (key, obj) in enumerate(entries):  # noqa: B007 - index used after the loop
            if limit and len(items) >= limit:
                has_more = True
                break
            if self._matches(rt, obj, labels, fields):
                items.append(self._list_item(rt, obj))
                last_key = key_string(key)
        metadata: dict[str, Any] = {"resourceVersion": str(at)}
        if has_more:
            metadata["continue"] = encode_continue(at, last_key + "\x00")
            if labels.empty and fields.empty:
                metadata["remainingItemCount"] = len(entries) - index
        return {
            "kind": rt.list_kind,
            "apiVersion": rt.api_version,
            "metadata": metadata,
            "items": items,
        }

    # ------------------------------------------------------- direct access

    def seed(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Store an object as if a controller had written it (status kept, no admission)."""
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if not api_version or not kind:
            raise ValueError("seeded objects need apiVersion and kind")
        rt = self.resolve_kind(api_version, kind)
        error = decode_error(obj, typed=rt.typed, time_fields=dict(rt.time_fields))
        if error:
            raise ValueError(f"cannot seed {kind}: {error}")
        stored = self._from_wire(rt, copy.deepcopy(obj))
        meta = _meta(stored)
        if rt.namespaced:
            meta.setdefault("namespace", "default")
        else:
            meta.pop("namespace", None)
        if meta.get("generateName") and not meta.get("name"):
            meta["name"] = self._generate_name(meta["generateName"])
        if rt.kind == "Secret" and not rt.group:
            stored.setdefault("type", "Opaque")
            self._fold_string_data(stored)
        if rt.custom:
            meta.setdefault("generation", 1)
        errs = validate_object_meta(meta, namespaced=rt.namespaced, name_rule=rt.name_rule)
        if errs:
            raise ValueError(f"cannot seed {kind}: {st.aggregate(errs)}")
        with self.store.lock:
            if rt.namespaced:
                self._ensure_namespace(meta["namespace"])
            key: Key = (meta.get("namespace", ""), meta["name"])
            existing = self.store.get(rt.storage_key, key)
            meta.setdefault("uid", (existing or {}).get("metadata", {}).get("uid") or str(uuid.uuid4()))
            meta.setdefault(
                "creationTimestamp",
                (existing or {}).get("metadata", {}).get("creationTimestamp") or self.now(),
            )
            meta.pop("resourceVersion", None)
            if rt.plural == "namespaces" and not rt.group:
                stored.setdefault("spec", {"finalizers": ["kubernetes"]})
                stored.setdefault("status", {"phase": "Active"})
                meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
            normalise_times(stored, dict(self._storage_type(rt).time_fields))
            self.store.put(rt.storage_key, key, stored)
            result = self.store.get(rt.storage_key, key)
        assert result is not None
        return self.to_wire(rt, result)

    def modify(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        mutate: Callable[[dict[str, Any]], dict[str, Any] | None],
    ) -> dict[str, Any]:
        """Change a stored object like another client would (new resourceVersion, generation)."""
        namespace = namespace if rt.namespaced else ""
        with self.store.lock:
            current = self._get(rt, namespace, name)
            wire = self.to_wire(rt, current)
            changed = mutate(copy.deepcopy(wire))
            if changed is None:
                raise ValueError("modify(): the callback must return the changed object")
            new = self._from_wire(rt, changed)
            old_meta, meta = _meta(current), _meta(new)
            meta["resourceVersion"] = old_meta["resourceVersion"]
            if rt.custom:
                ignored = ("metadata", "status") if rt.status_subresource else ("metadata",)
                if not _same(
                    {k: v for k, v in new.items() if k not in ignored},
                    {k: v for k, v in current.items() if k not in ignored},
                ):
                    meta["generation"] = int(old_meta.get("generation") or 0) + 1
            if _same(new, current):
                return wire
            self.store.put(rt.storage_key, (namespace, name), new)
            stored = self.store.get(rt.storage_key, (namespace, name))
        assert stored is not None
        return self.to_wire(rt, stored)
