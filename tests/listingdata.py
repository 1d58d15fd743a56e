"""Buckets of VM folders for the listing tests: objects written as the uploader writes them, served
by moto or by the benchmark's in-memory endpoint (`store`), and the checks those tests share.

Registered as a plugin by the modules that use it. Its checks carry their own messages, so it
opts out of pytest's assertion rewriting (a module importing it first would be warned about
otherwise): PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bench.s3server import DictBucket, S3Server
from reconciler.core.chain import Chain
from reconciler.core.model import ChainState, VMKey
from reconciler.simulate.upstream import append_checkpoint
from reconciler.sources.s3 import BucketReader
from tests.s3fixtures import CREDENTIALS, Seeder, bsl_for

BUCKET = "vm-backups"
PREFIX = "velero"
ROOT = f"{PREFIX}-kubevirt-datamover/"
T0 = datetime(2026, 9, 1, 1, 0, tzinfo=UTC)
ENV = {"AWS_EC2_METADATA_DISABLED": "true"}
# Names that sort in unexpected places: ' ' < '%' < '&' < '+' < '-' < '/' < 'a' < 'é' < U+E000 < U+1F600
# (the last two swap places in UTF-16 order, which S3 does not use).
ODD = ["a", "a b", "a+b", "a-b", "a%2Fb", "a&b", "ab", "é", "\ue000", "😀", "100%"]


@pytest.fixture
def hermetic_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS_* variable or config file of the machine reaches the readers."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


class Store:
    """A bucket on one of the two endpoints, and readers of it."""

    def __init__(self, endpoint: str, put: Any) -> None:
        self.endpoint = endpoint
        self._put = put
        self.readers: list[BucketReader] = []

    def put(self, objects: dict[str, bytes]) -> None:
        """Objects by key relative to the datamover prefix."""
        self._put({ROOT + k: v for k, v in objects.items()})

    def reader(self, cls: type[BucketReader] = BucketReader, **kw: Any) -> BucketReader:
        r = cls(bsl_for(BUCKET, PREFIX, self.endpoint), credentials=CREDENTIALS, environ=ENV, **kw)
        self.readers.append(r)
        return r


@pytest.fixture(params=["moto", "memory"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "moto":
        seed: Seeder = request.getfixturevalue("s3_seed")
        seed.bucket(BUCKET)
        made = Store(seed.endpoint, lambda objects: seed.put_many(BUCKET, objects))
        yield made
    else:
        bucket = DictBucket()
        server = S3Server({BUCKET: bucket}).start()

        def put(objects: dict[str, bytes]) -> None:
            for k, v in objects.items():
                bucket.put(k, v)

        made = Store(server.url, put)
        try:
            yield made
        finally:
            server.stop()
    for r in made.readers:
        r.close()


def folder(
    ns: str, name: str, checkpoints: int = 3, disks: tuple[str, ...] = ("rootdisk", "datadisk"), *, salt: int = 0
) -> dict[str, bytes]:
    """A VM's objects and index, written as the uploader writes them (small sizes, real bodies)."""
    doc: dict[str, Any] | None = None
    objects: dict[str, bytes] = {}
    for j in range(checkpoints):
        sizes = {d: 3 + (salt + 7 * j + 3 * i) % 50 for i, d in enumerate(disks)}
        doc, written = append_checkpoint(
            doc,
            namespace=ns,
            name=name,
            mode="full" if j == 0 else "incremental",
            at=T0 + timedelta(days=j),
            backup=f"nightly-{j}",
            disk_sizes=sizes,
        )
        objects.update({key: b"x" * size for key, size in written})
    objects[f"checkpoints/{ns}/{name}/index.json"] = json.dumps(doc).encode()
    return objects


def data_keys(objects: dict[str, bytes]) -> list[str]:
    return sorted(k for k in objects if k.endswith(".qcow2"))


def checkpoint_of(key: str) -> str:
    return key.split("/")[3]


def assert_valid(chains: dict[VMKey, Chain], vms: list[VMKey]) -> None:
    for vm in vms:
        assert chains[vm].state is ChainState.VALID, (vm, chains[vm].detail, chains[vm].problems)


def only_gets_and_lists(reader: BucketReader) -> dict[str, int]:
    stats = dict(reader.stats())
    assert set(stats) <= {"GetObject", "ListObjectsV2"}, stats
    return stats
