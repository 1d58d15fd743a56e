"""Raw Kubernetes objects -> domain objects (the live and offline sources share this)."""

from __future__ import annotations

import base64

import pytest

from reconciler.core.objects import ObjectError, parse_bsl, parse_schedule, parse_vm, unparsed_schedule


def test_schedule_fields() -> None:
    """A Schedule's cron, pause, times, scope and storage location are read."""
    raw = {
        "apiVersion": "velero.io/v1",
        "kind": "Schedule",
        "metadata": {
            "name": "n",
            "namespace": "velero",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "annotations": {"a": "b"},
        },
        "spec": {
            "schedule": "0 1 * * *",
            "paused": True,
            "template": {
                "includedNamespaces": ["a"],
                "excludedNamespaces": ["b"],
                "includedResources": ["vm"],
                "labelSelector": {"matchLabels": {"x": "y"}, "matchExpressions": [{"key": "k", "operator": "Exists"}]},
                "snapshotMoveData": True,
                "storageLocation": "s3",
            },
        },
        "status": {"lastBackup": "2026-02-01T01:00:03Z", "lastSkipped": "2026-02-02T01:00:00Z"},
    }
    s = parse_schedule(raw)
    assert s.last_skipped is not None and s.last_skipped.day == 2
    assert (s.ref, s.cron, s.paused) == ("velero/n", "0 1 * * *", True)
    assert s.last_backup is not None and s.last_backup.isoformat() == "2026-02-01T01:00:03+00:00"
    assert s.scope.storage_location == "s3" and s.scope.snapshot_move_data is True
    assert s.scope.label_selector is not None and s.scope.label_selector.requirements[0].operator == "Exists"


def test_both_selectors_are_rejected_like_velero() -> None:
    """labelSelector and orLabelSelectors together are refused, as Velero refuses such a backup."""
    raw = {
        "metadata": {"name": "n", "namespace": "v"},
        "spec": {
            "template": {
                "labelSelector": {"matchLabels": {"a": "1"}},
                "orLabelSelectors": [{"matchLabels": {"b": "1"}}],
            }
        },
    }
    with pytest.raises(ObjectError, match=r"v/n: spec\.template: labelSelector and orLabelSelectors"):
        parse_schedule(raw)


def test_bad_selector_operator_names_the_field() -> None:
    """A bad matchExpressions operator names the schedule and the path."""
    raw = {
        "metadata": {"name": "n", "namespace": "v"},
        "spec": {"template": {"labelSelector": {"matchExpressions": [{"key": "a", "operator": "Has"}]}}},
    }
    with pytest.raises(ObjectError, match=r"labelSelector.matchExpressions\[0\].operator"):
        parse_schedule(raw)


def test_bad_time_names_the_field() -> None:
    """An unparsable lastBackup names the object and field."""
    raw = {"metadata": {"name": "n", "namespace": "v"}, "spec": {}, "status": {"lastBackup": "yesterday"}}
    with pytest.raises(ObjectError, match=r"v/n: status\.lastBackup"):
        parse_schedule(raw)


def test_bsl_connection_and_ca() -> None:
    """A BSL's bucket, prefix, config and base64 CA in objectStorage are read."""
    pem = "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n"
    raw = {
        "metadata": {"name": "d", "namespace": "velero"},
        "spec": {
            "provider": "aws",
            "default": True,
            "objectStorage": {"bucket": "b", "prefix": "p", "caCert": base64.b64encode(pem.encode()).decode()},
            "config": {"region": "eu", "s3ForcePathStyle": "true"},
            "credential": {"name": "c", "key": "k"},
        },
    }
    b = parse_bsl(raw)
    assert (b.bucket, b.prefix, b.default, b.ca_cert) == ("b", "p", True, pem)
    assert b.config["s3ForcePathStyle"] == "true" and (b.credential_name, b.credential_key) == ("c", "k")


def test_bsl_without_bucket_is_rejected() -> None:
    """A BSL without a bucket (absent or empty) cannot locate any index: it is kept, with the problem."""
    for storage in ({}, {"bucket": ""}):
        b = parse_bsl({"metadata": {"name": "d", "namespace": "velero"}, "spec": {"objectStorage": storage}})
        assert b.problems == ("spec.objectStorage.bucket: missing or empty",)


@pytest.mark.parametrize("bucket", ["../outside", "a/b", "..", "x", "-bucket", "Bucket..two", "a" * 256, 7])
def test_bsl_with_an_invalid_bucket_name_is_rejected(bucket: object) -> None:
    """A bucket name no S3 bucket can have (slashes, dot-dot, too short or long) is refused, quoting it."""
    b = parse_bsl({"metadata": {"name": "d", "namespace": "velero"}, "spec": {"objectStorage": {"bucket": bucket}}})
    assert len(b.problems) == 1 and b.problems[0].startswith("spec.objectStorage.bucket=")
    assert "not a valid S3 bucket name" in b.problems[0]


def test_bsl_with_a_bad_ca_is_rejected() -> None:
    """A caCert in objectStorage that is not base64 is a problem of the BSL, not a crash."""
    b = parse_bsl(
        {
            "metadata": {"name": "d", "namespace": "velero"},
            "spec": {"objectStorage": {"bucket": "vm-backups", "caCert": "%%%"}},
        }
    )
    assert b.problems == ("spec.objectStorage.caCert: not base64 PEM",)


def test_unparsable_schedule_keeps_what_it_may_cover() -> None:
    """A Schedule with a bad time keeps its exact scope; one with unreadable selectors covers its namespaces."""
    raw = {
        "metadata": {"name": "s", "namespace": "velero", "creationTimestamp": "yesterday"},
        "spec": {
            "schedule": "0 1 * * *",
            "template": {"includedNamespaces": ["prod"], "labelSelector": {"matchLabels": {"app": "db"}}},
        },
    }
    with pytest.raises(ObjectError) as caught:
        parse_schedule(raw)
    kept = unparsed_schedule(raw, str(caught.value))
    assert kept.problems == (str(caught.value),) and kept.scope.label_selector is not None
    assert kept.cron == "0 1 * * *" and kept.created is None
    raw["spec"]["template"]["labelSelector"] = {"matchExpressions": [{"key": "app", "operator": "Has"}]}
    widened = unparsed_schedule(raw, "velero/s: bad")
    assert widened.scope.included_namespaces == ("prod",) and widened.scope.label_selector is None
    assert "taken to cover every VirtualMachine of the namespaces it includes" in widened.problems[1]


def test_vm_status() -> None:
    """A VM's printable status and CBT state are read; missing ones are empty."""
    v = parse_vm(
        {
            "metadata": {"name": "a", "namespace": "b", "resourceVersion": "9", "annotations": None},
            "status": {"printableStatus": "Running", "changedBlockTracking": {"state": "Enabled"}},
        }
    )
    assert (v.ref, v.printable_status, v.cbt_state, v.resource_version, dict(v.annotations)) == (
        "b/a",
        "Running",
        "Enabled",
        "9",
        {},
    )
    assert parse_vm({"metadata": {"name": "a", "namespace": "b"}}).cbt_state == ""
