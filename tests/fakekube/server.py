"""An in-process fake Kubernetes API server for tests that use the official Python client.

It listens on ``127.0.0.1`` (a free port), speaks plain HTTP/1.1 with keep-alive, and serves
the resources listed in :mod:`.resources`. Tests point production code at it with a kubeconfig
(:meth:`FakeKubeServer.write_kubeconfig`), then seed objects, queue faults, turn on RBAC and
inspect the request log.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from . import status as st
from .apiserver import ApiServer, RequestInfo, Response, parse_request_info
from .rbac import ANONYMOUS, Attributes, RBACAuthorizer, UserInfo, forbidden_reason
from .resources import ResourceType, default_resources

DEFAULT_USER = "system:serviceaccount:velero:full-backup-reconciler"
DEFAULT_CONTEXT = "fake"

Hook = Callable[["RecordedRequest"], None]


@dataclass
class Fault:
    """A queued failure: which requests it matches and how the server misbehaves for them.

    Matching: ``method`` (HTTP method), ``verb`` (get, list, create, update, patch, delete,
    deletecollection), ``path`` (regular expression searched in the URL path), ``resource``,
    ``name``, ``namespace`` and ``content_type`` (prefix); unset fields match anything.
    The first ``skip`` matching requests pass through, then the fault fires ``times`` times
    (``None``: forever).

    Behaviour: wait ``delay`` seconds, and until the event ``hold`` is set (if given), then
    either close the connection without an answer (``drop``), or answer ``status`` with a Status
    body (or ``body``: a dict is sent as JSON, a string as text/plain) plus ``retry_after`` /
    ``headers``. With neither ``drop`` nor ``status`` the request is merely held back and then
    served normally. ``hold`` lets a test decide when the server goes on (after the client gave
    up, say) instead of guessing a delay; a held request still ends when the server stops.
    """

    method: str | None = None
    path: str | None = None
    verb: str | None = None
    resource: str | None = None
    name: str | None = None
    namespace: str | None = None
    content_type: str | None = None
    status: int | None = None
    reason: str | None = None
    message: str | None = None
    body: Any = None
    retry_after: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hold: threading.Event | None = None
    drop: bool = False
    times: int | None = 1
    skip: int = 0
    matched: int = 0
    fired: int = 0
    _path_re: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.status is None and not self.drop and self.delay <= 0 and self.hold is None:
            raise ValueError("a fault needs a status, drop=True, a delay or a hold")
        self._path_re = re.compile(self.path) if self.path else None

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def matches(self, record: RecordedRequest) -> bool:
        checks = (
            (self.method, record.method),
            (self.verb, record.verb),
            (self.resource, record.resource),
            (self.name, record.name),
            (self.namespace, record.namespace),
        )
        if any(want is not None and want.upper() != (have or "").upper() for want, have in checks):
            return False
        if self._path_re is not None and not self._path_re.search(record.path):
            return False
        return self.content_type is None or (record.content_type or "").startswith(self.content_type)

    def response(self) -> tuple[int, Any, dict[str, str]]:
        assert self.status is not None
        headers = dict(self.headers)
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        body = self.body
        if body is None:
            body = st.for_code(self.status, reason=self.reason, message=self.message, retry_after=self.retry_after)
        return self.status, body, headers


@dataclass
class RecordedRequest:
    """One request as the server saw it, and what it answered."""

    method: str
    path: str
    query: dict[str, str]
    raw_query: str
    headers: dict[str, str]
    content_type: str | None
    body: Any
    user: str
    groups: tuple[str, ...]
    verb: str
    api_group: str
    api_version: str
    resource: str
    subresource: str
    namespace: str
    name: str
    started_at: float = field(default_factory=time.monotonic)
    status: int | None = None
    response: Any = None
    fault: Fault | None = None
    dropped: bool = False
    detail: str = ""
    duration: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)  # set once answered or dropped

    @property
    def is_resource(self) -> bool:
        return bool(self.resource)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: FakeKubeServer) -> None:
        self.fake = fake
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or go away mid-answer are expected in fault tests.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY every answer on a
    # kept-alive connection would wait for the client's delayed ACK (about 40 ms).
    disable_nagle_algorithm = True
    server: _HTTPServer

    def do_GET(self) -> None:
        self.server.fake._serve(self)

    def do_POST(self) -> None:
        self.server.fake._serve(self)

    def do_PUT(self) -> None:
        self.server.fake._serve(self)

    def do_PATCH(self) -> None:
        self.server.fake._serve(self)

    def do_DELETE(self) -> None:
        self.server.fake._serve(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _parse_body(raw: bytes, content_type: str | None) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        if content_type and "yaml" in content_type:
            return yaml.safe_load(text)
        return json.loads(text)
    except (ValueError, yaml.YAMLError):
        return text


class FakeKubeServer:
    """A fake kube-apiserver: start it, write a kubeconfig, run the code under test against it."""

    def __init__(
        self,
        *,
        resources: Iterable[ResourceType] | None = None,
        strict_namespaces: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.api = ApiServer(list(resources or default_resources()), clock=clock, strict_namespaces=strict_namespaces)
        self.rbac = RBACAuthorizer()
        self.rbac_enabled = False
        self._lock = threading.Lock()
        self._tokens: dict[str, UserInfo] = {}
        self._faults: list[Fault] = []
        self._log: list[RecordedRequest] = []
        self._hooks: list[Hook] = []
        self._hook_errors: list[BaseException] = []
        self._clients: list[Any] = []
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------- lifecycle

    def start(self) -> FakeKubeServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer(("127.0.0.1", 0), self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close client connections and any API clients made by :meth:`api_client`."""
        for client in self._clients:
            with contextlib.suppress(Exception):
                client.close()
        self._clients.clear()
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with httpd.sockets_lock:
            open_sockets = list(httpd.open_sockets)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> FakeKubeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        """Back to a fresh cluster: objects, RBAC, faults, log and hooks (tokens are kept)."""
        self.api.reset()
        self.rbac.clear()
        self.rbac_enabled = False
        with self._lock:
            self._faults.clear()
            self._log.clear()
            self._hooks.clear()
            self._hook_errors.clear()

    # -------------------------------------------------------- authentication

    def add_token(self, token: str, user: str, groups: Iterable[str] = ()) -> None:
        """Accept ``Authorization: Bearer <token>`` as ``user`` (service-account groups implied)."""
        with self._lock:
            self._tokens[token] = UserInfo.for_name(user, groups)

    def issue_token(self, user: str = DEFAULT_USER, groups: Iterable[str] = ()) -> str:
        token = secrets.token_urlsafe(24)
        self.add_token(token, user, groups)
        return token

    def kubeconfig_dict(
        self,
        *,
        user: str = DEFAULT_USER,
        groups: Iterable[str] = (),
        token: str | None = None,
        context: str = DEFAULT_CONTEXT,
        namespace: str | None = None,
    ) -> dict[str, Any]:
        token = token or self.issue_token(user, groups)
        ctx: dict[str, Any] = {"cluster": context, "user": context}
        if namespace:
            ctx["namespace"] = namespace
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {"token": token}}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
            "preferences": {},
        }

    def write_kubeconfig(
        self,
        path: str | Path,
        *,
        user: str = DEFAULT_USER,
        groups: Iterable[str] = (),
        token: str | None = None,
        context: str = DEFAULT_CONTEXT,
        namespace: str | None = None,
    ) -> Path:
        """Write a kubeconfig whose context ``context`` reaches this server as ``user``."""
        path = Path(path)
        config = self.kubeconfig_dict(user=user, groups=groups, token=token, context=context, namespace=namespace)
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return path

    def api_client(self, *, user: str = DEFAULT_USER, groups: Iterable[str] = ()) -> Any:
        """A ``kubernetes.client.ApiClient`` for ``user``, closed by :meth:`stop`."""
        from kubernetes import config  # noqa: PLC0415 - keep the server importable without it

        client = config.new_client_from_config_dict(  # type: ignore[no-untyped-call]
            self.kubeconfig_dict(user=user, groups=groups), context=DEFAULT_CONTEXT
        )
        self._clients.append(client)
        return client

    # ------------------------------------------------------------------ RBAC

    def enable_rbac(self, *documents: Any) -> int:
        """Authorize every resource request with RBAC; optionally load Roles/Bindings first."""
        loaded = self.rbac.load(*documents)
        self.rbac_enabled = True
        return loaded

    def load_rbac(self, *documents: Any) -> int:
        return self.rbac.load(*documents)

    def disable_rbac(self) -> None:
        self.rbac_enabled = False

    # ---------------------------------------------------------------- objects

    def register(self, resource: ResourceType) -> None:
        """Serve one more resource type (see :func:`.resources.custom_resource`)."""
        self.api.register(resource)

    def seed(self, *documents: Any) -> list[dict[str, Any]]:
        """Store objects directly (dicts, YAML text with one or more documents, or lists).

        Seeding is a controller writing to storage: no admission, ``status`` is kept, the
        namespace is created when missing, an existing object is replaced. Every object gets a
        new resourceVersion; uid and creationTimestamp are filled in unless given.
        """
        out = []
        for doc in _flatten(documents):
            out.append(self.api.seed(doc))
        return out

    def get(self, resource: str, name: str, namespace: str = "default") -> dict[str, Any] | None:
        """The stored object as the API would return it, or ``None``."""
        rt = self.api.resolve_ref(resource)
        stored = self.api.store.get(rt.storage_key, (namespace if rt.namespaced else "", name))
        return None if stored is None else self.api.to_wire(rt, stored)

    def objects(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        rt = self.api.resolve_ref(resource)
        ns = namespace if rt.namespaced else None
        return [self.api.to_wire(rt, obj) for _, obj in self.api.store.list(rt.storage_key, ns)]

    def modify(
        self,
        resource: str,
        name: str,
        mutate: Callable[[dict[str, Any]], dict[str, Any] | None],
        namespace: str = "default",
    ) -> dict[str, Any]:
        """Change an object as another client would: ``mutate`` gets a copy and returns it.

        The resourceVersion moves on (unless nothing changed), so a client holding the old
        one gets 409 Conflict on its next conditional write.
        """
        return self.api.modify(self.api.resolve_ref(resource), namespace, name, mutate)

    def delete(self, resource: str, name: str, namespace: str = "default") -> None:
        rt = self.api.resolve_ref(resource)
        self.api.store.put(rt.storage_key, (namespace if rt.namespaced else "", name), None)

    def compact(self) -> None:
        """Forget history, like etcd compaction: older continue tokens now get 410 Expired."""
        self.api.store.compact()

    @property
    def resource_version(self) -> int:
        return self.api.store.revision

    # ---------------------------------------------------------------- faults

    def add_fault(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        status: int | None = None,
        **options: Any,
    ) -> Fault:
        """Queue a :class:`Fault` (see there for the options); returns it for inspection."""
        fault = Fault(method=method, path=path, status=status, **options)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def _take_fault(self, record: RecordedRequest) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.exhausted or not fault.matches(record):
                    continue
                fault.matched += 1
                if fault.matched <= fault.skip:
                    continue
                fault.fired += 1
                return fault
        return None

    # ------------------------------------------------------------ request log

    def on_request(self, hook: Hook) -> Hook:
        """Call ``hook(record)`` for every request before it is served (usable as a decorator).

        The hook runs on the server thread handling the request and may change server state
        (for example :meth:`modify` an object between a client's GET and its PATCH).
        """
        with self._lock:
            self._hooks.append(hook)
        return hook

    def remove_hook(self, hook: Hook) -> None:
        with self._lock:
            self._hooks.remove(hook)

    @property
    def hook_errors(self) -> list[BaseException]:
        with self._lock:
            return list(self._hook_errors)

    def requests(
        self,
        verb: str | None = None,
        *,
        method: str | None = None,
        resource: str | None = None,
        name: str | None = None,
        namespace: str | None = None,
        path: str | None = None,
        status: int | None = None,
    ) -> list[RecordedRequest]:
        """Recorded requests, oldest first, filtered by any of the given attributes."""
        path_re = re.compile(path) if path else None
        with self._lock:
            records = list(self._log)
        return [
            r
            for r in records
            if (verb is None or r.verb == verb)
            and (method is None or r.method == method.upper())
            and (resource is None or r.resource == resource)
            and (name is None or r.name == name)
            and (namespace is None or r.namespace == namespace)
            and (path_re is None or path_re.search(r.path))
            and (status is None or r.status == status)
        ]

    def count(self, verb: str | None = None, **filters: Any) -> int:
        return len(self.requests(verb, **filters))

    def counts(self, *, resource: str | None = None) -> Counter[str]:
        """Requests per Kubernetes verb (get, list, create, update, patch, delete, ...)."""
        return Counter(r.verb for r in self.requests(resource=resource))

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    # ----------------------------------------------------------------- serving

    def _authenticate(self, headers: dict[str, str]) -> UserInfo | None:
        auth = headers.get("authorization")
        if not auth:
            return ANONYMOUS
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer":
            return None
        with self._lock:
            return self._tokens.get(token.strip())

    def _authorize(self, info: RequestInfo, user: UserInfo) -> None:
        if not self.rbac_enabled or not info.is_resource:
            return
        attrs = Attributes(
            user=user,
            verb=info.verb,
            api_group=info.api_group,
            resource=info.resource,
            subresource=info.subresource,
            namespace=info.namespace,
            name=info.authz_name,
        )
        allowed, reason = self.rbac.authorize(attrs)
        if not allowed:
            why = forbidden_reason(attrs) + (f": {reason}" if reason else "")
            raise st.forbidden(info.api_group, info.resource, info.authz_name, why)

    def _serve(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        path = unquote(split.path)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        length = int(headers.get("content-length") or 0)
        raw_body = handler.rfile.read(length) if length > 0 else b""
        info = parse_request_info(handler.command, path, split.query)
        user = self._authenticate(headers)
        content_type = headers.get("content-type")
        record = RecordedRequest(
            method=handler.command,
            path=path,
            query={k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()},
            raw_query=split.query,
            headers=headers,
            content_type=content_type,
            body=_parse_body(raw_body, content_type),
            user=user.name if user else "",
            groups=user.groups if user else (),
            verb=info.verb,
            api_group=info.api_group,
            api_version=info.api_version,
            resource=info.resource,
            subresource=info.subresource,
            namespace=info.namespace,
            name=info.name,
        )
        with self._lock:
            self._log.append(record)
            hooks = list(self._hooks)
        try:
            for hook in hooks:
                hook(record)
        except Exception as exc:  # noqa: BLE001 - reported to the test through hook_errors
            with self._lock:
                self._hook_errors.append(exc)
            self._finish(
                handler,
                record,
                Response(500, st.internal_error(f"request hook failed: {exc!r}").status),
            )
            return
        fault = self._take_fault(record)
        if fault is not None:
            record.fault = fault
            if fault.delay > 0 and self._stopping.wait(fault.delay):
                self._drop(handler, record)
                return
            if fault.hold is not None and not self._held(fault.hold):
                self._drop(handler, record)
                return
            if fault.drop:
                self._drop(handler, record)
                return
            if fault.status is not None:
                code, body, extra = fault.response()
                self._finish(handler, record, Response(code, body, extra))
                return
        if user is None:
            self._finish(handler, record, Response(401, st.unauthorized().status))
            return
        try:
            self._authorize(info, user)
        except st.ApiError as err:
            self._finish(handler, record, Response(err.code, err.status, err.headers))
            return
        self._finish(handler, record, self.api.handle(info, headers, raw_body))

    def _held(self, hold: threading.Event) -> bool:
        """Wait until `hold` is set: True; or until the server stops: False."""
        while not hold.wait(0.05):
            if self._stopping.is_set():
                return False
        return True

    def _finish(self, handler: _Handler, record: RecordedRequest, response: Response) -> None:
        record.status = response.status
        record.response = response.body
        record.detail = response.detail
        record.duration = time.monotonic() - record.started_at
        if isinstance(response.body, (dict, list)):
            data = json.dumps(response.body).encode()
            content_type = "application/json"
        else:
            data = str(response.body if response.body is not None else "").encode()
            content_type = "text/plain; charset=utf-8"
        try:
            handler.send_response(response.status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(data)))
            handler.send_header("Cache-Control", "no-cache, private")
            handler.send_header("Audit-Id", str(uuid.uuid4()))
            for key, value in response.headers.items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            handler.close_connection = True
        finally:
            record.done.set()

    def _drop(self, handler: _Handler, record: RecordedRequest) -> None:
        record.dropped = True
        record.duration = time.monotonic() - record.started_at
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)
        record.done.set()


def _flatten(documents: Iterable[Any]) -> Iterable[dict[str, Any]]:
    for doc in documents:
        if doc is None:
            continue
        if isinstance(doc, str):
            yield from _flatten(list(yaml.safe_load_all(doc)))
        elif isinstance(doc, dict):
            if doc.get("kind") == "List":
                yield from _flatten(doc.get("items") or [])
            else:
                yield doc
        else:
            yield from _flatten(doc)
