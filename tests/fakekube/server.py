"""An in-process fake Kubernetes API server for tests that use the official Python client.

It listens on ``127.0.0.1`` (a free port), speaks plain HTTP/1.1 with keep-alive, and serves
the resources listed in :mod:`.resources`. Tests point production code at it with a kubeconfig
(:meth:`FakeKubeServer.write_kubeconfig`), then seed objects, queue faults, turn on RBAC and
inspect the request log.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import secrets
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing Any
