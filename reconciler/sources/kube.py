"""Kubernetes adapter on the official client: read Schedules, BSLs, VMs, Secrets, the controller's
Deployment and its trackers; patch VMs; Events.

Thin by design: it turns HTTP into domain objects and exceptions and decides nothing. Every call
goes through `_call`, the one place where HTTP statuses become exception classes and where
transient failures are retried (tenacity) inside an overall deadline.
"""

from __future__ import annotations

import base64
import functools
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

import structlog
import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, stop_before_delay

from reconciler.core import keys
from reconciler.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    SourceError,
    TransientError,
    UsageError,
)

T = TypeVar("T")
SA_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
TIMEOUT = (5.0, 30.0)  # connect, read (seconds) for every request
PAGE = 500
log = structlog.get_logger("reconciler.kube")


class RetryAfter(TransientError):
    """429 or 503 with a Retry-After header: wait that long, not our own backoff."""

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


def _message(exc: ApiException) -> str:
    import json  # noqa: PLC0415 - only on the error path

    try:
        body = json.loads(exc.body or "{}")
        return str(body.get("message") or exc.reason)
    except ValueError:
        return str(exc.reason)


def translate(exc: Exception, what: str) -> SourceError:
    """HTTP status -> exception class, in one table."""
    if isinstance(exc, ApiException):
        status = exc.status or 0
        text = f"{what}: {status} {_message(exc)}"
        if status == 404:
            return NotFoundError(text)
        if status == 409:
            return ConflictError(text)
        if status in (401, 403):
            return ForbiddenError(text)
        if status == 429 or status >= 500:
            retry_after = (exc.headers or {}).get("Retry-After") if exc.headers else None
            if retry_after is not None and str(retry_after).isdigit():
                return RetryAfter(text, float(retry_after))
            return TransientError(text)
        return SourceError(text)
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError):
        return TransientError(f"{what}: {type(exc).__name__}: {exc}")
    return SourceError(f"{what}: {type(exc).__name__}: {exc}")


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, RetryAfter):
        return min(exc.seconds, 30.0)
    return float(min(0.5 * 2 ** (state.attempt_number - 1), 8.0))


class Kube:
    """The job's view of the API server. `sleep` is injected so fault tests run instantly."""

    def __init__(
        self,
        api: client.ApiClient,
        *,
        deadline_s: float = 60.0,
        attempts: int = 6,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = api
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        self.deadline_s = deadline_s
        self.attempts = attempts
        self.sleep = sleep
        self.calls: Counter[str] = Counter()

    def _call(self, verb: str, what: str, fn: Callable[[], T]) -> T:
        def once() -> T:
            self.calls[verb] += 1
            try:
                return fn()
            except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
                raise translate(exc, what) from exc

        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            # stop_before_delay: never start a wait (a Retry-After may ask for 30 s) that would end
            # past the deadline; stop_after_delay would sleep through it and try once more.
            stop=stop_after_attempt(self.attempts) | stop_before_delay(self.deadline_s),
            wait=_wait,
            sleep=self.sleep,
            reraise=True,
            before_sleep=lambda s: log.warning(
                "retrying", call=what, attempt=s.attempt_number, error=str(s.outcome.exception() if s.outcome else "")
            ),
        )
        return retrying(once)

    # --- reads ---------------------------------------------------------------------------

    def _pages(self, verb_what: str, fetch: Callable[[str | None], Any]) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            page = self._call("list", verb_what, functools.partial(fetch, token))
            yield from page.get("items") or []
            token = (page.get("metadata") or {}).get("continue") or None
            if not token:
                return

    def list_velero(self, plural: str, namespace: str) -> Iterator[dict[str, Any]]:
        def fetch(token: str | None) -> Any:
            kw: dict[str, Any] = {"limit": PAGE, "_request_timeout": TIMEOUT}
            if token:
                kw["_continue"] = token
            return self.custom.list_namespaced_custom_object("velero.io", "v1", namespace, plural, **kw)

        for item in self._pages(f"list {plural}.velero.io in {namespace}", fetch):
            item.setdefault("apiVersion", "velero.io/v1")
            item.setdefault("kind", "Schedule" if plural == "schedules" else "BackupStorageLocation")
            yield item

    def list_vms(self, *, label_selector: str = "") -> Iterator[dict[str, Any]]:
        """Every VirtualMachine, cluster-wide, in pages of 500 (never one GET per VM)."""

        def fetch(token: str | None) -> Any:
            kw: dict[str, Any] = {"limit": PAGE, "_request_timeout": TIMEOUT}
            if token:
                kw["_continue"] = token
            if label_selector:
                kw["label_selector"] = label_selector
            return self.custom.list_cluster_custom_object("kubevirt.io", "v1", "virtualmachines", **kw)

        for item in self._pages("list virtualmachines.kubevirt.io", fetch):
            item.setdefault("apiVersion", "kubevirt.io/v1")
            item.setdefault("kind", "VirtualMachine")
            yield item

    def get_vm(self, namespace: str, name: str) -> dict[str, Any]:
        obj = self._call(
            "get",
            f"get virtualmachine {namespace}/{name}",
            lambda: self.custom.get_namespaced_custom_object(
                "kubevirt.io", "v1", namespace, "virtualmachines", name, _request_timeout=TIMEOUT
            ),
        )
        return cast("dict[str, Any]", obj)

    def get_deployment(self, namespace: str, name: str) -> dict[str, Any]:
        """An apps/v1 Deployment as the API sends it (camelCase JSON, not the client's model classes)."""
        apps = client.AppsV1Api(self.api)

        def read() -> bytes:
            # _preload_content=False: the raw urllib3 response, not the client's model classes.
            response: Any = apps.read_namespaced_deployment(
                name, namespace, _preload_content=False, _request_timeout=TIMEOUT
            )
            try:
                return bytes(response.data)
            finally:
                response.release_conn()

        data = self._call("get", f"get deployment {namespace}/{name}", read)
        try:
            return cast("dict[str, Any]", json.loads(data))
        except ValueError as exc:
            raise SourceError(f"get deployment {namespace}/{name}: not JSON: {exc}") from exc

    def list_trackers(self) -> Iterator[dict[str, Any]]:
        """The controller's VirtualMachineBackupTrackers, cluster-wide, paged; only those carrying the
        label by which the controller finds a VM's tracker. 404: the CRD is not installed."""

        def fetch(token: str | None) -> Any:
            kw: dict[str, Any] = {"limit": PAGE, "_request_timeout": TIMEOUT, "label_selector": keys.VM_NAME_HASH}
            if token:
                kw["_continue"] = token
            return self.custom.list_cluster_custom_object(
                "backup.kubevirt.io", "v1alpha1", "virtualmachinebackuptrackers", **kw
            )

        for item in self._pages("list virtualmachinebackuptrackers.backup.kubevirt.io", fetch):
            item.setdefault("apiVersion", "backup.kubevirt.io/v1alpha1")
            item.setdefault("kind", "VirtualMachineBackupTracker")
            yield item

    def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        """One key of a Secret as text; None if the Secret or key is absent. Never logged."""
        secret = self._call(
            "get",
            f"get secret {namespace}/{name}",
            lambda: self.core.read_namespaced_secret(name, namespace, _request_timeout=TIMEOUT),
        )
        data = secret.data or {}
        if key not in data:
            return None
        return base64.b64decode(data[key]).decode("utf-8", errors="replace")

    # --- writes --------------------------------------------------------------------------

    def patch_vm(self, namespace: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A merge patch (the client's default for a dict body), guarded by the body's resourceVersion."""
        obj = self._call(
            "patch",
            f"patch virtualmachine {namespace}/{name}",
            lambda: self.custom.patch_namespaced_custom_object(
                "kubevirt.io", "v1", namespace, "virtualmachines", name, dict(body), _request_timeout=TIMEOUT
            ),
        )
        return cast("dict[str, Any]", obj)

    def create_event(self, namespace: str, body: Mapping[str, Any]) -> None:
        self._call(
            "create",
            f"create event in {namespace}",
            # The client serialises a plain dict as it is; the model class adds nothing here.
            lambda: self.core.create_namespaced_event(namespace, cast("Any", dict(body)), _request_timeout=TIMEOUT),
        )


def _kubeconfig_path(kubeconfig: str | None, environ: Mapping[str, str]) -> str:
    return (
        kubeconfig
        or environ.get("KUBECONFIG", "").split(":")[0]
        or str(Path(environ.get("HOME", "~")).expanduser() / ".kube" / "config")
    )


def _check_kubeconfig(path: str) -> None:
    """A readable YAML mapping, or a UsageError naming the file.

    The client's loader says "No configuration found" for a missing file, without its name, and
    ends in a YAML or TypeError traceback on a malformed one.
    """
    where = f"cannot load Kubernetes configuration from {path}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{where}: is a directory") from None
    except UnicodeDecodeError:
        raise UsageError(f"{where}: not a kubeconfig (not UTF-8 text)") from None
    except OSError as exc:
        raise UsageError(f"{where}: {exc.strerror or exc}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise UsageError(f"{where}: not YAML: {exc.problem or exc.context}{at}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{where}: not YAML: {exc}") from None
    if not isinstance(doc, dict):
        found = {type(None): "an empty document", list: "a list", str: "a string"}.get(type(doc), type(doc).__name__)
        raise UsageError(
            f"{where}: not a kubeconfig (expected a mapping with clusters, contexts and users, found {found})"
        )


def connect(*, kubeconfig: str | None, context: str | None, environ: Mapping[str, str]) -> client.ApiClient:
    """In-cluster when running in a pod and no kubeconfig is named, else the kubeconfig.

    Loaded explicitly: `config.load_config()` prints to stdout on its in-cluster fallback.
    """
    cfg = client.Configuration()
    if kubeconfig is None and context is None and "KUBERNETES_SERVICE_HOST" in environ:
        try:
            config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
        except (config.ConfigException, OSError, ValueError) as exc:
            raise UsageError(f"cannot load Kubernetes configuration (in-cluster): {exc}") from exc
    else:
        path = _kubeconfig_path(kubeconfig, environ)
        _check_kubeconfig(path)
        try:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=path, context=context, client_configuration=cfg
            )
        except config.ConfigException as exc:
            raise UsageError(f"cannot load Kubernetes configuration from {path}: {exc}") from exc
        # The loader walks the document without checking its shape: a list where a mapping belongs
        # ends in TypeError, AttributeError or KeyError from deep inside it. Any of them is a bad file.
        except Exception as exc:
            raise UsageError(
                f"cannot load Kubernetes configuration from {path}: not a valid kubeconfig "
                f"({type(exc).__name__}: {exc})"
            ) from exc
    cfg.retries = urllib3.Retry(total=0, redirect=0)  # one retry policy only: ours (tenacity)
    return client.ApiClient(cfg)


def default_velero_namespace(environ: Mapping[str, str]) -> str:
    """The pod's namespace in-cluster (where the CronJob runs beside Velero), else `velero`."""
    if "KUBERNETES_SERVICE_HOST" in environ and SA_NAMESPACE.is_file():
        return SA_NAMESPACE.read_text(encoding="utf-8").strip() or "velero"
    return "velero"
