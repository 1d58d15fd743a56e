"""``kind: Status`` bodies and field errors shaped like the Kubernetes API server's.

Message formats follow ``k8s.io/apimachinery/pkg/api/errors`` and
``k8s.io/apimachinery/pkg/util/validation/field`` so that code which inspects
``reason``, ``code``, ``details`` or the message text sees what a real server sends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

CONFLICT_MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"

# The reason a real server uses for each status code when nothing more specific applies.
REASON_FOR_CODE: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class _Omit:
    """Marker for a field error whose bad value is not printed."""

    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _Omit()


def go_quote(value: str) -> str:
    """Quote a string roughly the way Go's ``%q`` verb does."""
    return json.dumps(value, ensure_ascii=False)


def go_value(value: Any) -> str:
    """Format a bad value the way ``field.Error.ErrorBody`` does."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, list):
        return "[]string{" + ", ".join(go_quote(str(v)) for v in value) + "}"
    return go_quote(json.dumps(value, sort_keys=True, separators=(",", ":")))


_TYPE_TEXT = {
    "FieldValueInvalid": "Invalid value",
    "FieldValueRequired": "Required value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueTooLong": "Too long",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueNotFound": "Not found",
}


@dataclass(frozen=True)
class FieldError:
    """One ``field.Error``: a type, a field path, the offending value and a detail."""

    type: str
    field: str
    bad_value: Any = OMIT
    detail: str = ""

    def body(self) -> str:
        text = _TYPE_TEXT.get(self.type, self.type)
        if self.type in ("FieldValueInvalid", "FieldValueNotSupported", "FieldValueDuplicate") and (
            self.bad_value is not OMIT
        ):
            text = f"{text}: {go_value(self.bad_value)}"
        if self.detail:
            text = f"{text}: {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def invalid_value(path: str, value: Any, detail: str) -> FieldError:
    return FieldError("FieldValueInvalid", path, value, detail)


def required(path: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", path, OMIT, detail)


def forbidden_field(path: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", path, OMIT, detail)


def too_long(path: str, limit: int) -> FieldError:
    return FieldError("FieldValueTooLong", path, OMIT, f"may not be more than {limit} bytes")


def aggregate(errors: list[FieldError]) -> str:
    """``ErrorList.ToAggregate().Error()``: de-duplicated, bracketed when more than one."""
    seen: list[str] = []
    for err in errors:
        text = str(err)
        if text not in seen:
            seen.append(text)
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]"


class ApiError(Exception):
    """An error the fake server answers with: a Status body plus optional extra headers."""

    def __init__(self, status: dict[str, Any], headers: dict[str, str] | None = None, detail: str = "") -> None:
        super().__init__(status.get("message", ""))
        self.status = status
        self.headers = dict(headers or {})
        self.detail = detail

    @property
    def code(self) -> int:
        return int(self.status["code"])


def group_resource(group: str, resource: str) -> str:
    """``schema.GroupResource.String()``."""
    return f"{resource}.{group}" if group else resource


def group_kind(group: str, kind: str) -> str:
    """``schema.GroupKind.String()``."""
    return f"{kind}.{group}" if group else kind


def _details(
    *,
    name: str = "",
    group: str = "",
    kind: str = "",
    uid: str = "",
    causes: list[dict[str, str]] | None = None,
    retry_after: int = 0,
) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    if uid:
        details["uid"] = uid
    if causes:
        details["causes"] = causes
    if retry_after:
        details["retryAfterSeconds"] = retry_after
    return details


def failure(
    code: int,
    reason: str,
    message: str,
    details: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": metadata or {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def success(details: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }


def not_found(group: str, resource: str, name: str) -> ApiError:
    return ApiError(
        failure(
            404,
            "NotFound",
            f"{group_resource(group, resource)} {go_quote(name)} not found",
            _details(name=name, group=group, kind=resource),
        )
    )


def path_not_found() -> ApiError:
    return ApiError(failure(404, "NotFound", "the server could not find the requested resource", {}))


def already_exists(group: str, resource: str, name: str) -> ApiError:
    return ApiError(
        failure(
            409,
            "AlreadyExists",
            f"{group_resource(group, resource)} {go_quote(name)} already exists",
            _details(name=name, group=group, kind=resource),
        )
    )


def conflict(group: str, resource: str, name: str, why: str = CONFLICT_MODIFIED) -> ApiError:
    return ApiError(
        failure(
            409,
            "Conflict",
            f"Operation cannot be fulfilled on {group_resource(group, resource)} {go_quote(name)}: {why}",
            _details(name=name, group=group, kind=resource),
        )
    )


def forbidden(group: str, resource: str, name: str, why: str) -> ApiError:
    """``NewForbidden``: the name is left out of the message when the request has none."""
    gr = group_resource(group, resource)
    if not resource and not group:
        message = f"forbidden: {why}"
    elif not name:
        message = f"{gr} is forbidden: {why}"
    else:
        message = f"{gr} {go_quote(name)} is forbidden: {why}"
    return ApiError(failure(403, "Forbidden", message, _details(name=name, group=group, kind=resource)))


def invalid(group: str, kind: str, name: str, errors: list[FieldError], detail: str = "") -> ApiError:
    causes = [{"reason": e.type, "message": e.body(), "field": e.field} for e in errors]
    return ApiError(
        failure(
            422,
            "Invalid",
            f"{group_kind(group, kind)} {go_quote(name)} is invalid: {aggregate(errors)}",
            _details(name=name, group=group, kind=kind, causes=causes),
        ),
        detail=detail,
    )


def bad_request(message: str) -> ApiError:
    return ApiError(failure(400, "BadRequest", message))


def internal_error(message: str) -> ApiError:
    return ApiError(
        failure(
            500,
            "InternalError",
            f"Internal error occurred: {message}",
            _details(causes=[{"message": message}]),
        )
    )


def unsupported_media_type(accepted: list[str] | tuple[str, ...]) -> ApiError:
    return ApiError(
        failure(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: " + ", ".join(accepted),
        )
    )


def method_not_allowed() -> ApiError:
    return ApiError(
        failure(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            {},
        )
    )


def method_not_supported(group: str, resource: str, action: str) -> ApiError:
    return ApiError(
        failure(
            405,
            "MethodNotAllowed",
            f"{action} is not supported on resources of kind {go_quote(group_resource(group, resource))}",
            _details(group=group, kind=resource),
        )
    )


def expired(message: str, continue_token: str = "") -> ApiError:
    metadata = {"continue": continue_token} if continue_token else {}
    return ApiError(failure(410, "Expired", message, metadata=metadata))


def unauthorized() -> ApiError:
    return ApiError(failure(401, "Unauthorized", "Unauthorized"))


def generic(code: int, detail: str = "") -> ApiError:
    """``NewGenericServerResponse`` with no verb or resource, as the patch handler uses it."""
    reason = "Unknown"
    message = f"the server responded with the status code {code} but did not return more information"
    if code == 422:
        reason, message = (
            "Invalid",
            "the server rejected our request due to an error in our request",
        )
    elif code == 409:
        reason, message = "Conflict", "the server reported a conflict"
    elif code == 404:
        reason, message = "NotFound", "the server could not find the requested resource"
    elif code == 400:
        reason, message = "BadRequest", "the server rejected our request for an unknown reason"
    elif code >= 500:
        reason = "InternalError"
        message = f"an error on the server ({go_quote(detail)}) has prevented the request from succeeding"
    return ApiError(failure(code, reason, message, {}), detail=detail)


def for_code(
    code: int,
    *,
    reason: str | None = None,
    message: str | None = None,
    retry_after: int | None = None,
) -> dict[str, Any]:
    """A plausible Status body for an injected fault with the given code."""
    reason = reason or REASON_FOR_CODE.get(code, "InternalError" if code >= 500 else "Unknown")
    details: dict[str, Any] | None = None
    if message is None:
        if code == 429:
            message = "Too many requests, please try again later."
        elif code == 500:
            message = "Internal error occurred: injected fault"
            details = _details(causes=[{"message": "injected fault"}])
        elif code == 503:
            message = "the server is currently unable to handle the request"
        elif code == 504:
            message = "Timeout: request did not complete within the allotted timeout"
        else:
            message = f"injected fault with status code {code}"
    if retry_after:
        details = dict(details or {})
        details["retryAfterSeconds"] = int(retry_after)
    return failure(code, reason, message, details)
