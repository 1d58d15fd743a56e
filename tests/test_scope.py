"""Which VMs a Schedule backs up, and its storage location (design 2.2, 2.4)."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from datetime import timedelta

from reconciler.core import keys
from reconciler.core.model import LabelRequirement, LabelSelector
from reconciler.core.plan import view_schedules
from reconciler.core.scope import in_scope, resolve_bsl, selector_matches, unsupported_provider
from tests.builders import T0, bsl, schedule, vm


def scope_of(**kw: object):  # type: ignore[no-untyped-def]
    return schedule(**kw).scope  # type: ignore[arg-type]


def test_empty_or_star_namespaces_include_all() -> None:
    """No includedNamespaces, or "*", means every namespace."""
    assert in_scope(scope_of(), vm(ns="a"))
    assert in_scope(scope_of(included_namespaces=("*",)), vm(ns="a"))


def test_included_and_excluded_namespaces() -> None:
    """Excluded namespaces win over included ones; globs are honoured."""
    scope = scope_of(included_namespaces=("prod-*",), excluded_namespaces=("prod-old",))
    assert in_scope(scope, vm(ns="prod-eu"))
    assert not in_scope(scope, vm(ns="prod-old"))
    assert not in_scope(scope, vm(ns="dev"))


def test_resources_filter_virtualmachines() -> None:
    """A VM is out of scope if virtualmachines is excluded or not included, under any of its names."""
    assert not in_scope(scope_of(excluded_resources=("virtualmachines.kubevirt.io",)), vm())
    assert not in_scope(scope_of(included_resources=("persistentvolumeclaims",)), vm())
    assert in_scope(scope_of(included_resources=("VirtualMachines", "pvc")), vm())
    assert in_scope(scope_of(included_resources=("*",)), vm())


def test_label_selector_expressions() -> None:
    """matchLabels and In/NotIn/Exists/DoesNotExist all must hold."""
    sel = LabelSelector(
        {"app": "db"},
        (
            LabelRequirement("tier", "In", ("a", "b")),
            LabelRequirement("legacy", "DoesNotExist"),
            LabelRequirement("zone", "NotIn", ("x",)),
            LabelRequirement("team", "Exists"),
        ),
    )
    assert selector_matches(sel, {"app": "db", "tier": "a", "team": "t"})
    assert not selector_matches(sel, {"app": "db", "tier": "c", "team": "t"})
    assert not selector_matches(sel, {"app": "db", "tier": "a", "team": "t", "legacy": ""})
    assert not selector_matches(sel, {"app": "db", "tier": "a", "team": "t", "zone": "x"})
    assert selector_matches(sel, {"app": "db", "tier": "a", "team": "t", "zone": "y"})
    assert not selector_matches(sel, {"app": "db", "tier": "a"})


def test_or_label_selectors() -> None:
    """orLabelSelectors include a VM matching any one of them."""
    scope = scope_of(or_label_selectors=(LabelSelector({"a": "1"}), LabelSelector({"b": "1"})))
    assert in_scope(scope, vm(labels={"b": "1"}))
    assert not in_scope(scope, vm(labels={"c": "1"}))


def test_bsl_by_name_then_default() -> None:
    """storageLocation names the BSL; without it the default BSL of the namespace is used."""
    other, default = bsl("other", default=False), bsl("default")
    assert resolve_bsl(schedule(storage_location="other"), [other, default]) == other
    assert resolve_bsl(schedule(), [other, default]) == default


def test_bsl_errors_are_specific() -> None:
    """A missing named BSL, no default, or two defaults are each reported."""
    assert "velero/nope not found" in str(resolve_bsl(schedule(storage_location="nope"), [bsl()]))
    assert "spec.default: true" in str(resolve_bsl(schedule(), [bsl(default=False)]))
    assert "several default" in str(resolve_bsl(schedule(), [bsl("a"), bsl("b")]))
    assert "spec.default: true" in str(resolve_bsl(schedule(), [bsl(ns="other")]))


def test_datamover_prefix_is_a_sibling() -> None:
    """The datamover folder sits beside Velero's, joined with a hyphen, or at the root."""
    assert bsl(prefix="velero").index_key(("ns", "vm")) == "velero-kubevirt-datamover/checkpoints/ns/vm/index.json"
    assert bsl(prefix="").index_key(("ns", "vm")) == "kubevirt-datamover/checkpoints/ns/vm/index.json"
    assert bsl(prefix="a/b/").datamover_prefix == "a/b-kubevirt-datamover"


def test_missing_and_rejected_bsls_say_which() -> None:
    """A BSL that exists but is rejected is not reported as "not found"; the default is checked alike."""
    broken = replace(bsl(), problems=("spec.objectStorage.bucket: missing or empty",))
    named = str(resolve_bsl(schedule(storage_location="default"), [broken]))
    assert named == (
        "spec.template.storageLocation: BackupStorageLocation velero/default is rejected: "
        "spec.objectStorage.bucket: missing or empty"
    )
    assert str(resolve_bsl(schedule(), [broken])).startswith(
        "the default BackupStorageLocation velero/default is rejected"
    )
    assert str(resolve_bsl(schedule(storage_location="gone"), [broken])).endswith("velero/gone not found")


def test_only_s3_providers_are_read() -> None:
    """aws and velero.io/aws (any case, as the controller lower-cases it) are S3; Azure, GCP and others are not."""
    for provider in ("aws", "AWS", "velero.io/aws"):
        assert unsupported_provider(dataclasses.replace(bsl(), provider=provider)) is None
    for provider in ("azure", "velero.io/azure", "gcp", "velero.io/gcp", "community.openstack.org/openstack", ""):
        problem = unsupported_provider(dataclasses.replace(bsl(), provider=provider))
        assert problem is not None and f"spec.provider {provider!r} is not S3-compatible" in problem


def test_a_schedule_on_an_azure_bsl_is_an_error_naming_the_provider() -> None:
    """The Schedule carries the error, like its other errors, and its policy is not applied."""
    azure = dataclasses.replace(bsl(), provider="velero.io/azure")
    (view,) = view_schedules([schedule(annotations={keys.INTERVAL: "7"})], [azure], now=T0 + timedelta(days=70))
    assert view.policy is None and not view.usable
    assert view.errors == (
        "velero/nightly: BackupStorageLocation velero/default: spec.provider 'velero.io/azure' is "
        "not S3-compatible; this job reads checkpoint indexes through the S3 API only (provider "
        "aws or velero.io/aws)",
    )
