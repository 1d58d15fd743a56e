"""Validation rules of the Kubernetes API server, reduced to what the fake needs.

Messages follow ``k8s.io/apimachinery/pkg/util/validation`` (``IsDNS1123Subdomain``,
``IsQualifiedName``, ``IsValidLabelValue``), ``ValidateObjectMeta`` and the Event
validation in ``pkg/apis/core/validation/events.go``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from .status import (
    FieldError,
    forbidden_field,
    invalid_value,
    required,
    too_long,
)

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = "(" + QUALIFIED_NAME_FMT + ")?"

_DNS1123_LABEL_RE = re.compile(f"^{DNS1123_LABEL_FMT}$")
_DNS1123_SUBDOMAIN_RE = re.compile(f"^{DNS1123_SUBDOMAIN_FMT}$")
_QUALIFIED_NAME_RE = re.compile(f"^{QUALIFIED_NAME_FMT}$")
_LABEL_VALUE_RE = re.compile(f"^{LABEL_VALUE_FMT}$")

_QUALIFIED_NAME_ERR = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_ERR = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_ERR = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character"
)
_DNS1123_LABEL_ERR = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character"
)

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _DNS1123_LABEL_RE.match(value):
        errs.append(regex_error(_DNS1123_LABEL_ERR, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append(max_len_error(253))
    if not _DNS1123_SUBDOMAIN_RE.match(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_ERR, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name "
            + regex_error(_QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _QUALIFIED_NAME_RE.match(name):
        errs.append("name part " + regex_error(_QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


def is_valid_label_value(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _LABEL_VALUE_RE.match(value):
        errs.append(regex_error(_LABEL_VALUE_ERR, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def is_valid_path_segment_name(name: str) -> list[str]:
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def _mask_trailing_dash(name: str) -> str:
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def validate_name(rule: str, name: str, prefix: bool = False) -> list[str]:
    """The per-resource name rule: ``subdomain``, ``label`` or ``path`` (path segment only)."""
    if rule == "path":
        return is_valid_path_segment_name(name)
    if prefix:
        name = _mask_trailing_dash(name)
    if rule == "label":
        return is_dns1123_label(name)
    return is_dns1123_subdomain(name)


def validate_labels(labels: dict[str, str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in sorted(labels):
        errs.extend(invalid_value(path, key, m) for m in is_qualified_name(key))
        errs.extend(invalid_value(path, labels[key], m) for m in is_valid_label_value(labels[key]))
    return errs


def validate_annotations(annotations: dict[str, str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in sorted(annotations):
        errs.extend(invalid_value(path, key, m) for m in is_qualified_name(key.lower()))
    size = sum(len(k) + len(v) for k, v in annotations.items())
    if size > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def validate_object_meta(
    meta: dict[str, Any], *, namespaced: bool, name_rule: str, path: str = "metadata"
) -> list[FieldError]:
    """``ValidateObjectMeta`` for create (and the parts of it re-checked on update)."""
    errs: list[FieldError] = []
    generate_name = meta.get("generateName") or ""
    name = meta.get("name") or ""
    if generate_name:
        errs.extend(
            invalid_value(f"{path}.generateName", generate_name, m)
            for m in validate_name(name_rule, generate_name, prefix=True)
        )
    if not name:
        errs.append(required(f"{path}.name", "name or generateName is required"))
    else:
        errs.extend(invalid_value(f"{path}.name", name, m) for m in validate_name(name_rule, name))
    namespace = meta.get("namespace") or ""
    if namespaced:
        if not namespace:
            errs.append(required(f"{path}.namespace"))
        else:
            errs.extend(invalid_value(f"{path}.namespace", namespace, m) for m in is_dns1123_label(namespace))
    elif namespace:
        errs.append(forbidden_field(f"{path}.namespace", "not allowed on this type"))
    generation = meta.get("generation")
    if isinstance(generation, int) and generation < 0:
        errs.append(invalid_value(f"{path}.generation", generation, "must be greater than or equal to 0"))
    errs.extend(validate_labels(meta.get("labels") or {}, f"{path}.labels"))
    errs.extend(validate_annotations(meta.get("annotations") or {}, f"{path}.annotations"))
    for finalizer in meta.get("finalizers") or []:
        errs.extend(invalid_value(f"{path}.finalizers", finalizer, m) for m in is_qualified_name(finalizer))
    return errs


def validate_object_meta_update(new: dict[str, Any], old: dict[str, Any], path: str = "metadata") -> list[FieldError]:
    """The immutable-field part of ``ValidateObjectMetaUpdate``."""
    errs: list[FieldError] = []
    for key in ("uid", "creationTimestamp", "deletionTimestamp"):
        if new.get(key) != old.get(key):
            errs.append(invalid_value(f"{path}.{key}", new.get(key), "field is immutable"))
    if old.get("deletionTimestamp"):
        added = [f for f in new.get("finalizers") or [] if f not in (old.get("finalizers") or [])]
        if added:
            errs.append(
                forbidden_field(
                    f"{path}.finalizers",
                    f"no new finalizers can be added if the object is being deleted, found new "
                    f"finalizers []string{{{', '.join(chr(34) + f + chr(34) for f in added)}}}",
                )
            )
    return errs


# ---------------------------------------------------------------------------
# Decoding: what Go's JSON decoder rejects before any validation runs.

_GO_JSON_TYPE = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "bool",
    int: "number",
    float: "number",
}


def _json_type(value: Any) -> str:
    return _GO_JSON_TYPE.get(type(value), "number")


_META_STRING_FIELDS = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion")
_META_INT_FIELDS = ("generation", "deletionGracePeriodSeconds")

RFC3339 = "2006-01-02T15:04:05Z07:00"
RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"
_TIME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def parse_time(value: str, micro: bool) -> datetime:
    """Parse like ``metav1.Time`` (RFC 3339) or ``metav1.MicroTime`` (exactly six fraction digits).

    Raises ``ValueError`` with Go's ``time.Parse`` message shape.
    """
    layout = RFC3339_MICRO if micro else RFC3339
    match = _TIME_RE.match(value)
    if match is None:
        head = re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?", value)
        rest = value[head.end() :] if head else value
        elem = "Z07:00" if head else "2006"
        raise ValueError(f"parsing time {_q(value)} as {_q(layout)}: cannot parse {_q(rest)} as {_q(elem)}")
    fraction = match.group(7) or ""
    if micro and len(fraction) != 7:
        rest = value[match.start(7) if fraction else match.start(8) :]
        raise ValueError(f'parsing time {_q(value)} as {_q(layout)}: cannot parse {_q(rest)} as ".000000"')
    zone = match.group(8)
    tz = UTC
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    micros = int((fraction[1:] + "000000")[:6]) if fraction else 0
    try:
        parsed = datetime(
            int(match.group(1)),
            int(match.group(2)),
            int(match.group(3)),
            int(match.group(4)),
            int(match.group(5)),
            int(match.group(6)),
            micros,
            tzinfo=tz,
        )
    except ValueError as exc:
        raise ValueError(f"parsing time {_q(value)}: {exc}") from None
    return parsed.astimezone(UTC)


def format_time(moment: datetime, micro: bool = False) -> str:
    moment = moment.astimezone(UTC)
    if micro:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _get_path(obj: dict[str, Any], dotted: str) -> tuple[bool, Any]:
    cur: Any = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return False, None
        cur = cur[part]
    return True, cur


def _set_path(obj: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    cur = obj
    for part in parts[:-1]:
        cur = cur[part]
    cur[parts[-1]] = value


def _unmarshal(value: Any, target: str) -> str:
    return f"json: cannot unmarshal {_json_type(value)} into Go {target}"


def decode_error(obj: Any, *, typed: bool, time_fields: dict[str, bool]) -> str | None:
    """The first error Go's decoder would report for this object, or ``None``.

    ``typed`` selects the message shape of built-in types (decoded as one struct:
    ``ObjectMeta.metadata.labels``) versus custom resources (metadata decoded on its own:
    ``ObjectMeta.labels``). ``time_fields`` maps dotted paths to ``True`` for MicroTime.
    """
    if not isinstance(obj, dict):
        return _unmarshal(obj, "value of type map[string]interface {}")
    meta = obj.get("metadata")
    prefix = "ObjectMeta.metadata." if typed else "ObjectMeta."
    if meta is not None and not isinstance(meta, dict):
        return (
            f"json: cannot unmarshal {_json_type(meta)} into Go struct field "
            f"{'ObjectMeta.metadata' if typed else 'ObjectMeta'} of type v1.ObjectMeta"
        )
    meta = meta or {}
    for key in _META_STRING_FIELDS:
        if meta.get(key) is not None and not isinstance(meta[key], str):
            return _unmarshal(meta[key], f"struct field {prefix}{key} of type string")
    for key in _META_INT_FIELDS:
        value = meta.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            return _unmarshal(value, f"struct field {prefix}{key} of type int64")
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            return (
                f"json: cannot unmarshal {_json_type(value)} into Go struct field {prefix}{key} "
                "of type map[string]string"
            )
        for item in value.values():
            if item is not None and not isinstance(item, str):
                return _unmarshal(item, f"struct field {prefix}{key} of type string")
    finalizers = meta.get("finalizers")
    if finalizers is not None:
        if not isinstance(finalizers, list):
            return _unmarshal(finalizers, f"struct field {prefix}finalizers of type []string")
        for item in finalizers:
            if not isinstance(item, str):
                return _unmarshal(item, f"struct field {prefix}finalizers of type string")
    owners = meta.get("ownerReferences")
    if owners is not None and (not isinstance(owners, list) or not all(isinstance(o, dict) for o in owners)):
        return _unmarshal(owners, f"struct field {prefix}ownerReferences of type []v1.OwnerReference")
    all_times = {
        "metadata.creationTimestamp": False,
        "metadata.deletionTimestamp": False,
        **time_fields,
    }
    for dotted, micro in all_times.items():
        found, value = _get_path(obj, dotted)
        if not found or value is None:
            continue
        if not isinstance(value, str):
            return f"json: cannot unmarshal {_json_type(value)} into Go value of type string"
        try:
            parse_time(value, micro)
        except ValueError as exc:
            return str(exc)
    return None


def normalise_times(obj: dict[str, Any], time_fields: dict[str, bool]) -> None:
    """Re-serialise typed time fields the way the server stores them (UTC, fixed precision)."""
    all_times = {
        "metadata.creationTimestamp": False,
        "metadata.deletionTimestamp": False,
        **time_fields,
    }
    for dotted, micro in all_times.items():
        found, value = _get_path(obj, dotted)
        if found and isinstance(value, str):
            _set_path(obj, dotted, format_time(parse_time(value, micro), micro))


# ---------------------------------------------------------------------------
# Events (core/v1 legacy rules and the stricter events.k8s.io/v1 rules).

REPORTING_INSTANCE_LIMIT = 128
ACTION_LIMIT = 128
REASON_LIMIT = 128
NOTE_LIMIT = 1024


def validate_event(event: dict[str, Any], *, strict: bool) -> list[FieldError]:
    """``ValidateEventCreate``; ``event`` is in core/v1 shape, ``strict`` for events.k8s.io/v1."""
    errs: list[FieldError] = []
    meta = event.get("metadata") or {}
    namespace = meta.get("namespace") or ""
    involved = event.get("involvedObject") or {}
    involved_ns = involved.get("namespace") or ""
    if not event.get("eventTime"):
        if not involved_ns:
            if namespace not in ("", "default"):
                errs.append(invalid_value("involvedObject.namespace", involved_ns, "does not match event.namespace"))
        elif namespace != involved_ns:
            errs.append(invalid_value("involvedObject.namespace", involved_ns, "does not match event.namespace"))
    else:
        if not involved_ns and namespace not in ("default", "kube-system"):
            errs.append(invalid_value("involvedObject.namespace", involved_ns, "does not match event.namespace"))
        controller = event.get("reportingComponent") or ""
        if not controller:
            errs.append(required("reportingController"))
        errs.extend(invalid_value("reportingController", controller, m) for m in is_qualified_name(controller))
        instance = event.get("reportingInstance") or ""
        if not instance:
            errs.append(required("reportingInstance"))
        if len(instance) > REPORTING_INSTANCE_LIMIT:
            errs.append(
                invalid_value(
                    "reportingInstance",
                    "",
                    f"can have at most {REPORTING_INSTANCE_LIMIT} characters",
                )
            )
        action = event.get("action") or ""
        if not action:
            errs.append(required("action"))
        if len(action) > ACTION_LIMIT:
            errs.append(invalid_value("action", "", f"can have at most {ACTION_LIMIT} characters"))
        reason = event.get("reason") or ""
        if not reason:
            errs.append(required("reason"))
        if len(reason) > REASON_LIMIT:
            errs.append(invalid_value("reason", "", f"can have at most {REASON_LIMIT} characters"))
        if len(event.get("message") or "") > NOTE_LIMIT:
            errs.append(invalid_value("message", "", f"can have at most {NOTE_LIMIT} characters"))
    errs.extend(invalid_value("namespace", namespace, m) for m in is_dns1123_subdomain(namespace))
    if not strict:
        return errs
    errs.extend(validate_object_meta(meta, namespaced=True, name_rule="subdomain"))
    series = event.get("series")
    if series is not None:
        if (series.get("count") or 0) < 2:
            errs.append(invalid_value("series.count", "", "should be at least 2"))
        if not series.get("lastObservedTime"):
            errs.append(required("series.lastObservedTime"))
    if not event.get("eventTime"):
        errs.append(required("eventTime"))
    event_type = event.get("type") or ""
    if event_type not in ("Normal", "Warning"):
        errs.append(invalid_value("type", "", f"has invalid value: {event_type}"))
    if event.get("firstTimestamp"):
        errs.append(invalid_value("firstTimestamp", "", "needs to be unset"))
    if event.get("lastTimestamp"):
        errs.append(invalid_value("lastTimestamp", "", "needs to be unset"))
    if event.get("count"):
        errs.append(invalid_value("count", "", "needs to be unset"))
    source = event.get("source") or {}
    if source.get("component") or source.get("host"):
        errs.append(invalid_value("source", "", "needs to be unset"))
    return errs
