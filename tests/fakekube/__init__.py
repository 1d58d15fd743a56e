"""A faithful fake Kubernetes API server for tests driven through the official client."""

from .resources import ResourceType, custom_resource
from .server import DEFAULT_CONTEXT, DEFAULT_USER, FakeKubeServer, Fault, RecordedRequest

__all__ = [
    "DEFAULT_CONTEXT",
    "DEFAULT_USER",
    "FakeKubeServer",
    "Fault",
    "RecordedRequest",
    "ResourceType",
    "custom_resource",
]
