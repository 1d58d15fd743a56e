"""Raw Kubernetes objects (dicts as the API or `kubectl get -o yaml` give them) -> domain objects.

The only code that reads raw keys of Schedules, BackupStorageLocations and VirtualMachines, so
the live cluster and the offline snapshot yield exactly the same domain objects.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from reconciler.core.gotext import go_duration
from reconciler.core.model import (
    DEFAULT_TTL,
    VM,
    BackupScope,
    Bsl,
    LabelRequirement,
    LabelSelector,
    Schedule,
)
from reconciler.core.names import BUCKET_HELP, bucket_problem
from reconciler.core.timefmt import parse_time

Raw = Mapping[str, Any]


class ObjectError(ValueError):
    """A Kubernetes object this job cannot interpret; the message names object and field."""


def _map(obj: Raw, key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def ref_of(obj: Raw) -> str:
    meta = _map(obj, "metadata")
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _time(obj: Raw, where: str, value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = parse_time(str(value))
    if parsed is None:
        raise ObjectError(f"{ref_of(obj)}: {where}: not an RFC 3339 time: {value!r}")
    return parsed


def parse_selector(raw: Any, where: str) -> LabelSelector:
    if not isinstance(raw, Mapping):
        raise ObjectError(f"{where}: expected a LabelSelector object")
    reqs = []
    for i, expr in enumerate(raw.get("matchExpressions") or []):
        if not isinstance(expr, Mapping) or "key" not in expr:
            raise ObjectError(f"{where}.matchExpressions[{i}]: expected {{key, operator, values}}")
        op = str(expr.get("operator", ""))
        values = _strs(expr.get("values"))
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ObjectError(
                f"{where}.matchExpressions[{i}].operator: {op!r} is not In, NotIn, Exists or DoesNotExist"
            )
        if op in ("In", "NotIn") and not values:
            raise ObjectError(f"{where}.matchExpressions[{i}].values: must be non-empty for {op}")
        if op in ("Exists", "DoesNotExist") and values:
            raise ObjectError(f"{where}.matchExpressions[{i}].values: must be empty for {op}")
        reqs.append(LabelRequirement(str(expr["key"]), op, values))
    return LabelSelector(_str_map(raw.get("matchLabels")), tuple(reqs))


def _scope(tmpl: Raw, ref: str, *, selectors: bool = True) -> BackupScope:
    """What a backup from this template includes; `selectors=False` leaves labels unconstrained."""
    label_selector = None
    ors: tuple[LabelSelector, ...] = ()
    if selectors:
        if tmpl.get("labelSelector") is not None:
            label_selector = parse_selector(tmpl["labelSelector"], f"{ref}: spec.template.labelSelector")
        ors = tuple(
            parse_selector(s, f"{ref}: spec.template.orLabelSelectors[{i}]")
            for i, s in enumerate(tmpl.get("orLabelSelectors") or [])
        )
        if label_selector is not None and ors:
            # Velero rejects such a backup outright ("encountered labelSelector as well as
            # orLabelSelectors in backup spec, only one can be specified").
            raise ObjectError(f"{ref}: spec.template: labelSelector and orLabelSelectors cannot both be set")
    smd = tmpl.get("snapshotMoveData")
    return BackupScope(
        included_namespaces=_strs(tmpl.get("includedNamespaces")),
        excluded_namespaces=_strs(tmpl.get("excludedNamespaces")),
        label_selector=label_selector,
        or_label_selectors=ors,
        included_resources=_strs(tmpl.get("includedResources")),
        excluded_resources=_strs(tmpl.get("excludedResources")),
        snapshot_move_data=smd if isinstance(smd, bool) else None,
        storage_location=str(tmpl.get("storageLocation") or ""),
    )


def template_ttl(raw: Any) -> timedelta | None:
    """`spec.template.ttl` as Velero reads it (a Go duration, metav1.Duration); None when it cannot.

    Unset, empty or zero is Velero's default TTL (720h). Only the storage report reads it, so an
    unparsable value leaves the TTL figure unknown rather than the Schedule unusable.
    """
    if raw in (None, ""):
        return DEFAULT_TTL
    try:
        nanos = go_duration(str(raw))
    except ValueError:
        return None
    return timedelta(microseconds=nanos // 1000) or DEFAULT_TTL


def parse_schedule(obj: Raw) -> Schedule:
    meta, spec, status = _map(obj, "metadata"), _map(obj, "spec"), _map(obj, "status")
    return Schedule(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        resource_version=str(meta.get("resourceVersion", "")),
        annotations=_str_map(meta.get("annotations")),
        cron=str(spec.get("schedule") or ""),
        paused=spec.get("paused") is True,
        created=_time(obj, "metadata.creationTimestamp", meta.get("creationTimestamp")),
        last_backup=_time(obj, "status.lastBackup", status.get("lastBackup")),
        scope=_scope(_map(spec, "template"), ref_of(obj)),
        last_skipped=_time(obj, "status.lastSkipped", status.get("lastSkipped")),
        ttl=template_ttl(_map(spec, "template").get("ttl")),
    )


def unparsed_schedule(obj: Raw, problem: str) -> Schedule:
    """A Schedule `parse_schedule` refused, kept with its problem so the plan knows what it may cover.

    Its scope is read as far as it can be; selectors that cannot be read are dropped, which
    widens the scope to every VM of the namespaces it names: a superset of what it backs up.
    """
    meta, spec = _map(obj, "metadata"), _map(obj, "spec")
    ref = ref_of(obj)
    tmpl = _map(spec, "template")
    problems = [problem]
    try:
        scope = _scope(tmpl, ref)
    except ObjectError:
        scope = _scope(tmpl, ref, selectors=False)
        problems.append(
            f"{ref}: its label selectors cannot be read, so it is taken to cover every "
            "VirtualMachine of the namespaces it includes"
        )
    return Schedule(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        resource_version=str(meta.get("resourceVersion", "")),
        annotations=_str_map(meta.get("annotations")),
        cron=str(spec.get("schedule") or ""),
        paused=spec.get("paused") is True,
        created=None,
        last_backup=None,
        scope=scope,
        problems=tuple(problems),
    )


def parse_bsl(obj: Raw) -> Bsl:
    """A BSL; one that cannot locate an index (no or an invalid bucket, a bad CA) carries `problems`."""
    meta, spec = _map(obj, "metadata"), _map(obj, "spec")
    storage, config, cred = _map(spec, "objectStorage"), _map(spec, "config"), _map(spec, "credential")
    problems: list[str] = []
    bucket = storage.get("bucket")
    if not bucket:
        problems.append("spec.objectStorage.bucket: missing or empty")
    elif not isinstance(bucket, str) or bucket_problem(bucket) is not None:
        problems.append(f"spec.objectStorage.bucket={json.dumps(str(bucket), ensure_ascii=False)}: {BUCKET_HELP}")
    ca = str(_str_map(config).get("caCert", ""))
    if not ca and storage.get("caCert"):
        try:
            ca = base64.b64decode(str(storage["caCert"]), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            problems.append("spec.objectStorage.caCert: not base64 PEM")
    return Bsl(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        provider=str(spec.get("provider", "")),
        bucket=str(bucket or ""),
        prefix=str(storage.get("prefix") or ""),
        default=spec.get("default") is True,
        config=_str_map(config),
        credential_name=str(cred.get("name") or ""),
        credential_key=str(cred.get("key") or ""),
        ca_cert=ca,
        problems=tuple(problems),
    )


def parse_vm(obj: Raw) -> VM:
    meta, status = _map(obj, "metadata"), _map(obj, "status")
    return VM(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        uid=str(meta.get("uid", "")),
        resource_version=str(meta.get("resourceVersion", "")),
        labels=_str_map(meta.get("labels")),
        annotations=_str_map(meta.get("annotations")),
        printable_status=str(status.get("printableStatus") or ""),
        cbt_state=str(_map(status, "changedBlockTracking").get("state") or ""),
    )


def kind_of(obj: Raw) -> tuple[str, str]:
    """(group, kind) of a raw object: ('velero.io', 'Schedule'), ('kubevirt.io', 'VirtualMachine')."""
    api = str(obj.get("apiVersion", ""))
    group = api.split("/", 1)[0] if "/" in api else ""
    return group, str(obj.get("kind", ""))
