"""Pytest fixtures around :class:`FakeKubeServer`.

Enable them for the whole suite with one line in ``tests/conftest.py``::

    pytest_plugins = ["tests.fakekube.fixtures"]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from .server import DEFAULT_CONTEXT, DEFAULT_USER, FakeKubeServer


@pytest.fixture
def fake_kube() -> Iterator[FakeKubeServer]:
    """A running fake API server, one per test (it starts in a few milliseconds)."""
    server = FakeKubeServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_kubeconfig(fake_kube: FakeKubeServer, tmp_path: Path) -> Path:
    """A kubeconfig file whose current context ``fake`` reaches ``fake_kube`` as DEFAULT_USER.

    Production code loads it unchanged:
    ``kubernetes.config.load_kube_config(config_file=str(path), context="fake")``.
    """
    return fake_kube.write_kubeconfig(tmp_path / "kubeconfig", user=DEFAULT_USER)


@pytest.fixture
def fake_kubeconfig_for(fake_kube: FakeKubeServer, tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``fake_kubeconfig_for(user, groups=(), namespace=None)`` -> kubeconfig path."""
    counter = iter(range(1_000_000))

    def make(user: str, groups: Iterable[str] = (), namespace: str | None = None) -> Path:
        path = tmp_path / f"kubeconfig-{next(counter)}"
        return fake_kube.write_kubeconfig(path, user=user, groups=groups, namespace=namespace)

    return make


@pytest.fixture
def fake_api_client(fake_kubeconfig: Path) -> Iterator[client.ApiClient]:
    """An ``ApiClient`` built from ``fake_kubeconfig`` the way production code builds one."""
    api_client = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(fake_kubeconfig), context=DEFAULT_CONTEXT
    )
    try:
        yield api_client
    finally:
        api_client.close()


@pytest.fixture
def fake_api_client_for(fake_kube: FakeKubeServer) -> Callable[..., Any]:
    """Factory: ``fake_api_client_for(user, groups=())`` -> ``ApiClient``, closed after the test."""

    def make(user: str, groups: Iterable[str] = ()) -> Any:
        return fake_kube.api_client(user=user, groups=groups)

    return make


@pytest.fixture
def fake_core_v1(fake_api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(fake_api_client)


@pytest.fixture
def fake_custom_objects(fake_api_client: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(fake_api_client)


@pytest.fixture
def fake_events_v1(fake_api_client: client.ApiClient) -> client.EventsV1Api:
    return client.EventsV1Api(fake_api_client)
