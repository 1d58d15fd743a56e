"""The fake API server, exercised only through the official ``kubernetes`` client."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
import urllib3
from kubernetes import client, config, dynamic
from kubernetes.client.rest import ApiException

from tests.fakekube import DEFAULT_USER, FakeKubeServer

pytest_plugins = ["tests.fakekube.fixtures"]

KV = ("kubevirt.io", "v1")
VM = "virtualmachines"
SA = "system:serviceaccount:velero:full-backup-reconciler"


def vm(name: str, namespace: str = "vms", labels: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"running": True},
    }
    obj.update(extra)
    return obj


def status_of(exc: ApiException) -> dict[str, Any]:
    return json.loads(exc.body)


def names(listing: dict[str, Any]) -> list[str]:
    return [item["metadata"]["name"] for item in listing["items"]]


@pytest.fixture
def five_vms(fake_kube: FakeKubeServer) -> FakeKubeServer:
    fake_kube.seed(
        vm("vm1", labels={"tier": "db", "backup": "full", "size": "1"}),
        vm("vm2", labels={"tier": "web", "size": "3"}),
        vm("vm3", labels={"tier": "db", "size": "5"}),
        vm("vm4", labels={"tier": "cache", "backup": "incremental"}),
        vm("vm5"),
    )
    return fake_kube


def get_vm(api: client.CustomObjectsApi, name: str, namespace: str = "vms") -> dict[str, Any]:
    return api.get_namespaced_custom_object(*KV, namespace, VM, name)


def patch_vm(api: client.CustomObjectsApi, name: str, body: Any, namespace: str = "vms", **kw: Any) -> Any:
    return api.patch_namespaced_custom_object(*KV, namespace, VM, name, body, **kw)


# --------------------------------------------------------------------------- plumbing


def test_kubeconfig_loads_with_load_kube_config(fake_kube, fake_kubeconfig):
    """A written kubeconfig loads with load_kube_config and carries the server URL and token."""
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(fake_kubeconfig), context="fake", client_configuration=configuration)
    assert configuration.host == fake_kube.url
    assert configuration.auth_settings()["BearerToken"]["value"].startswith("Bearer ")


def test_discovery_and_version_endpoints_are_valid(fake_api_client):
    """/version, /api, /apis and group discovery answer well enough for the dynamic client."""
    assert client.VersionApi(fake_api_client).get_code().major == "1"
    assert client.CoreApi(fake_api_client).get_api_versions().versions == ["v1"]
    groups = {g.name for g in client.ApisApi(fake_api_client).get_api_versions().groups}
    assert {"kubevirt.io", "velero.io", "events.k8s.io"} <= groups
    dyn = dynamic.DynamicClient(fake_api_client)
    vms = dyn.resources.get(api_version="kubevirt.io/v1", kind="VirtualMachine")
    assert vms.namespaced and vms.name == "virtualmachines"


def test_unknown_token_is_unauthorized(fake_kube, tmp_path):
    """A bearer token the server does not know gets 401 Unauthorized."""
    path = fake_kube.write_kubeconfig(tmp_path / "bad", token="not-a-known-token")
    api = client.CoreV1Api(config.new_client_from_config(config_file=str(path), context="fake"))
    with pytest.raises(ApiException) as err:
        api.list_namespace()
    assert err.value.status == 401
    assert status_of(err.value)["reason"] == "Unauthorized"


# --------------------------------------------------------------------------- list


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("tier=db", ["vm1", "vm3"]),
        ("tier==db", ["vm1", "vm3"]),
        ("tier!=db", ["vm2", "vm4", "vm5"]),
        ("tier in (db,web)", ["vm1", "vm2", "vm3"]),
        ("tier notin (db)", ["vm2", "vm4", "vm5"]),
        ("backup", ["vm1", "vm4"]),
        ("!backup", ["vm2", "vm3", "vm5"]),
        ("tier=db,backup", ["vm1"]),
        ("tier in (db, cache), !backup", ["vm3"]),
        ("size>2", ["vm2", "vm3"]),
        ("", ["vm1", "vm2", "vm3", "vm4", "vm5"]),
    ],
)
def test_label_selector_forms(five_vms, fake_custom_objects, selector, expected):
    """Each label selector form selects exactly the objects the real selector semantics select."""
    listing = fake_custom_objects.list_namespaced_custom_object(*KV, "vms", VM, label_selector=selector)
    assert names(listing) == expected


def test_invalid_label_selector_is_bad_request(five_vms, fake_custom_objects):
    """A label selector that does not parse is answered with 400 BadRequest."""
    with pytest.raises(ApiException) as err:
        fake_custom_objects.list_namespaced_custom_object(*KV, "vms", VM, label_selector="tier in db")
    assert err.value.status == 400
    assert status_of(err.value)["reason"] == "BadRequest"
    assert "unable to parse requirement" in status_of(err.value)["message"]


def test_field_selectors_on_name_and_namespace(five_vms, fake_custom_objects):
    """Field selectors on metadata.name / metadata.namespace filter; other fields are rejected with
    400."""
    fake_custom_objects_list = fake_custom_objects.list_namespaced_custom_object
    assert names(fake_custom_objects_list(*KV, "vms", VM, field_selector="metadata.name=vm2")) == ["vm2"]
    assert len(fake_custom_objects_list(*KV, "vms", VM, field_selector="metadata.name!=vm2")["items"]) == 4
    five_vms.seed(vm("other", namespace="elsewhere"))
    listing = fake_custom_objects.list_cluster_custom_object(*KV, VM, field_selector="metadata.namespace=elsewhere")
    assert names(listing) == ["other"]
    with pytest.raises(ApiException) as err:
        fake_custom_objects_list(*KV, "vms", VM, field_selector="spec.running=true")
    assert err.value.status == 400
    assert status_of(err.value)["message"] == (
        '"spec.running" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )


def test_paging_with_limit_and_continue(five_vms, fake_custom_objects):
    """limit=2 over five objects yields pages of 2, 2 and 1 linked by continue tokens at one
    resourceVersion."""
    pages: list[dict[str, Any]] = []
    token = None
    while True:
        page = fake_custom_objects.list_namespaced_custom_object(*KV, "vms", VM, limit=2, _continue=token)
        pages.append(page)
        token = page["metadata"].get("continue")
        if not token:
            break
    assert [names(p) for p in pages] == [["vm1", "vm2"], ["vm3", "vm4"], ["vm5"]]
    assert [p["metadata"].get("remainingItemCount") for p in pages] == [3, 1, None]
    assert len({p["metadata"]["resourceVersion"] for p in pages}) == 1


def test_continued_list_is_a_consistent_snapshot(five_vms, fake_custom_objects):
    """Later pages show objects as they were when the list started, like etcd snapshots."""
    first = fake_custom_objects.list_namespaced_custom_object(*KV, "vms", VM, limit=2)
    five_vms.modify(VM, "vm3", lambda o: {**o, "spec": {"running": False}}, namespace="vms")
    five_vms.delete(VM, "vm4", namespace="vms")
    second = fake_custom_objects.list_namespaced_custom_object(
        *KV, "vms", VM, limit=2, _continue=first["metadata"]["continue"]
    )
    assert names(second) == ["vm3", "vm4"]
    assert second["items"][0]["spec"]["running"] is True


def test_cluster_wide_vm_list_pages_across_namespaces(fake_kube, fake_custom_objects):
    """The cluster-wide VM list returns every namespace's VMs in key order and pages across them."""
    fake_kube.seed(vm("b", "ns-b"), vm("a", "ns-a"), vm("c", "ns-a"), vm("a", "ns-c"), vm("z", "ns-b"))
    first = fake_custom_objects.list_cluster_custom_object(*KV, VM, limit=2)
    rest = fake_custom_objects.list_cluster_custom_object(*KV, VM, limit=10, _continue=first["metadata"]["continue"])
    seen = [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in first["items"] + rest["items"]]
    assert seen == [("ns-a", "a"), ("ns-a", "c"), ("ns-b", "b"), ("ns-b", "z"), ("ns-c", "a")]
    assert "continue" not in rest["metadata"]


def test_garbage_continue_token_is_bad_request(five_vms, fake_custom_objects):
    """A continue token that does not decode gets 400 BadRequest, as etcd3 storage answers."""
    with pytest.raises(ApiException) as err:
        fake_custom_objects.list_namespaced_custom_object(*KV, "vms", VM, limit=2, _continue="garbage!")
    assert err.value.status == 400
    assert status_of(err.value)["message"].startswith("invalid continue token: continue key is not valid")


def test_compacted_continue_token_is_gone(five_vms, fake_custom_objects):
    """After compaction an old continue token gets 410 Expired carrying a token to resume
    inconsistently."""
    first = fake_custom_objects.list_namespaced_custom_object(*KV, "vms", VM, limit=2)
    five_vms.seed(vm("vm6"))
    five_vms.compact()
    with pytest.raises(ApiException) as err:
        fake_custom_objects.list_namespaced_custom_object(
            *KV, "vms", VM, limit=2, _continue=first["metadata"]["continue"]
        )
    body = status_of(err.value)
    assert (err.value.status, body["reason"]) == (410, "Expired")
    resumed = fake_custom_objects.list_namespaced_custom_object(
        *KV, "vms", VM, limit=10, _continue=body["metadata"]["continue"]
    )
    assert names(resumed) == ["vm3", "vm4", "vm5", "vm6"]


def test_typed_list_items_have_no_kind(fake_kube, fake_core_v1):
    """Built-in typed lists omit kind/apiVersion on items while single GETs carry them."""
    fake_kube.seed(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s3", "namespace": "velero"},
            "stringData": {"key": "value"},
        }
    )
    listing = fake_core_v1.list_namespaced_secret("velero", field_selector="type=Opaque")
    assert [s.metadata.name for s in listing.items] == ["s3"]
    assert listing.items[0].kind is None
    secret = fake_core_v1.read_namespaced_secret("s3", "velero")
    assert (secret.kind, secret.data) == ("Secret", {"key": "dmFsdWU="})


# --------------------------------------------------------------------------- get / create / delete


def test_get_missing_object_is_not_found(fake_kube, fake_custom_objects):
    """GET of a missing object is 404 NotFound with the real message and details."""
    with pytest.raises(ApiException) as err:
        get_vm(fake_custom_objects, "nope")
    body = status_of(err.value)
    assert err.value.status == 404
    assert body["message"] == 'virtualmachines.kubevirt.io "nope" not found'
    assert body["details"] == {"name": "nope", "group": "kubevirt.io", "kind": "virtualmachines"}


def test_create_then_create_again_conflicts(fake_kube, fake_custom_objects):
    """POST answers 201 with server-set metadata (status dropped); a second POST is 409
    AlreadyExists."""
    fake_kube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "vms"}})
    body = vm("vm1", status={"printableStatus": "Running"})
    created, code, _ = fake_custom_objects.create_namespaced_custom_object_with_http_info(*KV, "vms", VM, body)
    assert code == 201
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z") and meta["generation"] == 1
    assert int(meta["resourceVersion"]) > 0
    assert "status" not in created
    with pytest.raises(ApiException) as err:
        fake_custom_objects.create_namespaced_custom_object(*KV, "vms", VM, body)
    assert (err.value.status, status_of(err.value)["reason"]) == (409, "AlreadyExists")
    assert status_of(err.value)["message"] == 'virtualmachines.kubevirt.io "vm1" already exists'


def test_create_in_missing_namespace_is_not_found(fake_kube, fake_custom_objects):
    """Creating in a namespace that does not exist is 404 for the namespace, like
    NamespaceLifecycle."""
    with pytest.raises(ApiException) as err:
        fake_custom_objects.create_namespaced_custom_object(*KV, "ghost", VM, vm("vm1", "ghost"))
    assert err.value.status == 404
    assert status_of(err.value)["message"] == 'namespaces "ghost" not found'


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (
            {},
            'VirtualMachine.kubevirt.io "" is invalid: metadata.name: Required value: name or generateName is required',
        ),
        (
            {"name": "Bad_Name"},
            'VirtualMachine.kubevirt.io "Bad_Name" is invalid: metadata.name: '
            'Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain',
        ),
        (
            {"name": "ok", "labels": {"l": "x" * 64}},
            'VirtualMachine.kubevirt.io "ok" is invalid: metadata.labels: Invalid value: "'
            + "x" * 64
            + '": must be no more than 63 characters',
        ),
    ],
)
def test_create_validation_is_unprocessable(fake_kube, fake_custom_objects, metadata, message):
    """Bad names and label values on create are 422 Invalid with the real message."""
    body = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": metadata}
    with pytest.raises(ApiException) as err:
        fake_custom_objects.create_namespaced_custom_object(*KV, "default", VM, body)
    assert (err.value.status, status_of(err.value)["reason"]) == (422, "Invalid")
    assert status_of(err.value)["message"].startswith(message)


def test_create_with_non_string_annotation_is_bad_request(fake_kube, fake_custom_objects):
    """A POST body whose annotation value is a number fails to decode: 400 BadRequest."""
    body = vm("vm1", "default")
    body["metadata"]["annotations"] = {"a": 1}
    with pytest.raises(ApiException) as err:
        fake_custom_objects.create_namespaced_custom_object(*KV, "default", VM, body)
    assert err.value.status == 400
    assert "cannot be handled as a VirtualMachine" in status_of(err.value)["message"]


def test_event_generate_name(fake_core_v1):
    """generateName on a core Event yields the prefix plus five random characters."""
    event = client.CoreV1Event(
        metadata=client.V1ObjectMeta(generate_name="vm1."),
        involved_object=client.V1ObjectReference(kind="VirtualMachine", name="vm1", namespace="default"),
        reason="FullBackupForced",
        message="forced",
        type="Normal",
    )
    created = fake_core_v1.create_namespaced_event("default", event)
    assert created.metadata.name.startswith("vm1.") and len(created.metadata.name) == 9


def test_events_v1_round_trip_and_microtime(fake_kube, fake_events_v1, fake_core_v1):
    """events.k8s.io/v1 events are stored once, read back through core/v1, and need a six-digit
    eventTime."""
    body = {
        "metadata": {"generateName": "vm1-"},
        "eventTime": datetime(2026, 11, 24, 20, 0, 0, 123456, tzinfo=UTC),
        "reportingController": "example.com/full-backup-reconciler",
        "reportingInstance": "cronjob-1",
        "action": "Annotate",
        "reason": "FullBackupForced",
        "note": "forced a full backup",
        "type": "Normal",
        "regarding": {"kind": "VirtualMachine", "name": "vm1", "namespace": "default"},
    }
    created = fake_events_v1.create_namespaced_event("default", body)
    assert fake_kube.requests("create")[-1].body["eventTime"] == "2026-11-24T20:00:00.123456+00:00"
    core = fake_core_v1.list_namespaced_event("default", field_selector="involvedObject.name=vm1")
    assert [e.metadata.name for e in core.items] == [created.metadata.name]
    assert core.items[0].message == "forced a full backup"
    # This client serialises eventTime with isoformat(), which drops a zero fraction; the
    # API server's MicroTime then refuses it.
    whole_second = {**body, "eventTime": datetime(2026, 11, 24, 20, 0, 0, tzinfo=UTC)}
    with pytest.raises(ApiException) as err:
        fake_events_v1.create_namespaced_event("default", whole_second)
    assert err.value.status == 400
    assert 'cannot parse "+00:00" as ".000000"' in status_of(err.value)["message"]
    with pytest.raises(ApiException) as err:
        fake_events_v1.create_namespaced_event("default", {**body, "action": ""})
    assert err.value.status == 422
    assert "action: Required value" in status_of(err.value)["message"]


def test_delete_answers_like_the_real_server(fake_kube, fake_custom_objects, fake_core_v1):
    """DELETE returns the object for CRs, a Success Status for secrets, and waits for finalizers."""
    fake_kube.seed(
        vm("plain"),
        vm(
            "held",
            metadata={"name": "held", "namespace": "vms", "finalizers": ["example.com/hold"]},
        ),
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "vms"}},
    )
    gone = fake_custom_objects.delete_namespaced_custom_object(*KV, "vms", VM, "plain")
    assert gone["metadata"]["name"] == "plain"
    assert fake_core_v1.delete_namespaced_secret("s", "vms")["status"] == "Success"
    held = fake_custom_objects.delete_namespaced_custom_object(*KV, "vms", VM, "held")
    assert held["metadata"]["deletionTimestamp"] and get_vm(fake_custom_objects, "held")
    patch_vm(fake_custom_objects, "held", {"metadata": {"finalizers": None}})
    assert fake_kube.get(VM, "held", namespace="vms") is None


# --------------------------------------------------------------------------- patch / update


def test_merge_patch_adds_annotation_and_bumps_resource_version(five_vms, fake_custom_objects):
    """A merge patch applies, moves resourceVersion on, and leaves generation alone for metadata
    changes."""
    before = get_vm(fake_custom_objects, "vm1")
    after = patch_vm(fake_custom_objects, "vm1", {"metadata": {"annotations": {"example.com/x": "1"}}})
    assert after["metadata"]["annotations"] == {"example.com/x": "1"}
    assert int(after["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    spec_changed = patch_vm(fake_custom_objects, "vm1", {"spec": {"running": False}})
    assert spec_changed["metadata"]["generation"] == before["metadata"]["generation"] + 1
    assert five_vms.requests(verb="patch")[0].content_type == "application/merge-patch+json"


def test_merge_patch_with_stale_resource_version_conflicts(five_vms, fake_custom_objects):
    """A merge patch carrying an outdated metadata.resourceVersion is 409 Conflict with the real
    message."""
    stale = get_vm(fake_custom_objects, "vm1")["metadata"]["resourceVersion"]
    patch_vm(fake_custom_objects, "vm1", {"metadata": {"annotations": {"a": "1"}}})
    with pytest.raises(ApiException) as err:
        patch_vm(
            fake_custom_objects,
            "vm1",
            {"metadata": {"resourceVersion": stale, "annotations": {"a": "2"}}},
        )
    body = status_of(err.value)
    assert (err.value.status, body["reason"]) == (409, "Conflict")
    assert body["message"] == (
        'Operation cannot be fulfilled on virtualmachines.kubevirt.io "vm1": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    assert get_vm(fake_custom_objects, "vm1")["metadata"]["annotations"] == {"a": "1"}


def test_merge_patch_null_removes_annotation(five_vms, fake_custom_objects):
    """A null in a merge patch deletes the key (RFC 7386)."""
    patch_vm(fake_custom_objects, "vm1", {"metadata": {"annotations": {"a": "1", "b": "2"}}})
    after = patch_vm(fake_custom_objects, "vm1", {"metadata": {"annotations": {"a": None}}})
    assert after["metadata"]["annotations"] == {"b": "2"}


def test_noop_merge_patch_keeps_resource_version(five_vms, fake_custom_objects):
    """A patch that changes nothing still answers 200 and does not move resourceVersion."""
    patch_vm(fake_custom_objects, "vm1", {"metadata": {"annotations": {"a": "1"}}})
    rv = get_vm(fake_custom_objects, "vm1")["metadata"]["resourceVersion"]
    _, code, _ = fake_custom_objects.patch_namespaced_custom_object_with_http_info(
        *KV, "vms", VM, "vm1", {"metadata": {"annotations": {"a": "1"}}}
    )
    assert code == 200
    assert patch_vm(fake_custom_objects, "vm1", {})["metadata"]["resourceVersion"] == rv


def test_json_patch_with_list_body(five_vms, fake_custom_objects):
    """A list body forced to json-patch applies with ~1 escaping; unforced, this client sends it as
    merge-patch (422)."""
    ops = [
        {"op": "add", "path": "/metadata/annotations", "value": {}},
        {"op": "add", "path": "/metadata/annotations/backup.example.com~1last-full", "value": "x"},
        {"op": "test", "path": "/spec/running", "value": True},
    ]
    after = patch_vm(fake_custom_objects, "vm1", ops, _content_type="application/json-patch+json")
    assert after["metadata"]["annotations"] == {"backup.example.com/last-full": "x"}
    assert five_vms.requests(verb="patch")[-1].content_type == "application/json-patch+json"
    assert five_vms.requests(verb="patch")[-1].body == ops
    with pytest.raises(ApiException) as err:
        patch_vm(fake_custom_objects, "vm1", ops)
    assert five_vms.requests(verb="patch")[-1].content_type == "application/merge-patch+json"
    assert (err.value.status, status_of(err.value)["reason"]) == (422, "Invalid")


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "test", "path": "/spec/running", "value": False}],
        [{"op": "remove", "path": "/metadata/annotations/missing"}],
        [{"op": "replace", "path": "/spec/missing", "value": 1}],
    ],
)
def test_failed_json_patch_is_invalid(five_vms, fake_custom_objects, ops):
    """A failed test op or a missing path is 422 Invalid and leaves the object unchanged."""
    before = get_vm(fake_custom_objects, "vm1")
    with pytest.raises(ApiException) as err:
        patch_vm(fake_custom_objects, "vm1", ops, _content_type="application/json-patch+json")
    body = status_of(err.value)
    assert (err.value.status, body["reason"]) == (422, "Invalid")
    assert body["message"] == "the server rejected our request due to an error in our request"
    assert get_vm(fake_custom_objects, "vm1") == before


def test_strategic_merge_patch_on_custom_resource_is_unsupported(five_vms, fake_custom_objects, fake_core_v1):
    """Strategic merge patch is 415 on custom resources but accepted on core types."""
    with pytest.raises(ApiException) as err:
        patch_vm(
            fake_custom_objects,
            "vm1",
            {"metadata": {"labels": {"a": "b"}}},
            _content_type="application/strategic-merge-patch+json",
        )
    body = status_of(err.value)
    assert (err.value.status, body["reason"]) == (415, "UnsupportedMediaType")
    assert body["message"] == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )
    five_vms.seed({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "vms"}})
    patched = fake_core_v1.patch_namespaced_secret("s", "vms", {"metadata": {"labels": {"a": "b"}}})
    assert patched.metadata.labels == {"a": "b"}
    assert five_vms.requests(verb="patch")[-1].content_type == "application/strategic-merge-patch+json"


def test_non_string_annotation_in_patch_is_invalid(five_vms, fake_custom_objects):
    """A merge patch setting an annotation to a number is 422 Invalid (the patched object fails to
    decode)."""
    with pytest.raises(ApiException) as err:
        patch_vm(fake_custom_objects, "vm1", {"metadata": {"annotations": {"a": 1}}})
    body = status_of(err.value)
    assert (err.value.status, body["reason"]) == (422, "Invalid")
    assert "cannot unmarshal number into Go struct field ObjectMeta.annotations of type string" in body["message"]


def test_replace_requires_current_resource_version(five_vms, fake_custom_objects):
    """PUT with a stale resourceVersion is 409; without one a custom resource is 422."""
    current = get_vm(fake_custom_objects, "vm1")
    patch_vm(fake_custom_objects, "vm1", {"metadata": {"annotations": {"a": "1"}}})
    with pytest.raises(ApiException) as err:
        fake_custom_objects.replace_namespaced_custom_object(*KV, "vms", VM, "vm1", current)
    assert err.value.status == 409
    del current["metadata"]["resourceVersion"]
    with pytest.raises(ApiException) as err:
        fake_custom_objects.replace_namespaced_custom_object(*KV, "vms", VM, "vm1", current)
    assert err.value.status == 422
    assert (
        "metadata.resourceVersion: Invalid value: 0: must be specified for an update"
        in (status_of(err.value)["message"])
    )


def test_status_subresource_separates_spec_and_status(fake_kube, fake_custom_objects):
    """The main resource ignores status changes; the /status subresource changes only status."""
    fake_kube.seed(vm("vm1", status={"printableStatus": "Running"}))
    main = patch_vm(fake_custom_objects, "vm1", {"status": {"printableStatus": "Hacked"}})
    assert main["status"] == {"printableStatus": "Running"}
    sub = fake_custom_objects.patch_namespaced_custom_object_status(
        *KV,
        "vms",
        VM,
        "vm1",
        {"status": {"printableStatus": "Stopped"}, "spec": {"running": False}},
    )
    assert sub["status"] == {"printableStatus": "Stopped"} and sub["spec"] == {"running": True}


# --------------------------------------------------------------------------- RBAC

RBAC_MANIFEST = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: vm-patcher, namespace: vms}
rules:
- apiGroups: [kubevirt.io]
  resources: [virtualmachines]
  verbs: [get, list, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: vm-patcher, namespace: vms}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: vm-patcher}
subjects:
- {kind: ServiceAccount, name: full-backup-reconciler, namespace: velero}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: velero-reader}
rules:
- apiGroups: [velero.io]
  resources: [schedules, backupstoragelocations]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: velero-reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: velero-reader}
subjects:
- {kind: ServiceAccount, name: full-backup-reconciler, namespace: velero}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: vm-viewer}
rules:
- apiGroups: [kubevirt.io]
  resources: [virtualmachines]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: vm-viewer, namespace: lab}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: vm-viewer}
subjects:
- {kind: ServiceAccount, name: full-backup-reconciler, namespace: velero}
"""


@pytest.fixture
def rbac_cluster(five_vms: FakeKubeServer) -> FakeKubeServer:
    five_vms.seed(vm("lab-vm", "lab"), vm("other-vm", "other"))
    five_vms.enable_rbac(RBAC_MANIFEST)
    return five_vms


def test_role_grants_only_in_its_namespace(rbac_cluster, fake_custom_objects):
    """A Role bound by a RoleBinding allows its verbs in its namespace; elsewhere it is 403 with the
    real message."""
    patch_vm(fake_custom_objects, "vm1", {"metadata": {"annotations": {"a": "1"}}})
    with pytest.raises(ApiException) as err:
        patch_vm(
            fake_custom_objects,
            "other-vm",
            {"metadata": {"annotations": {"a": "1"}}},
            namespace="other",
        )
    body = status_of(err.value)
    assert (err.value.status, body["reason"]) == (403, "Forbidden")
    assert body["message"] == (
        'virtualmachines.kubevirt.io "other-vm" is forbidden: User '
        f'"{SA}" cannot patch resource "virtualmachines" in API group "kubevirt.io" '
        'in the namespace "other"'
    )
    with pytest.raises(ApiException) as err:
        fake_custom_objects.delete_namespaced_custom_object(*KV, "vms", VM, "vm1")
    assert err.value.status == 403


def test_cluster_role_binding_grants_cluster_wide(rbac_cluster, fake_custom_objects):
    """A ClusterRole bound by a ClusterRoleBinding allows its verbs in every namespace and cluster-
    wide."""
    rbac_cluster.seed(
        {
            "apiVersion": "velero.io/v1",
            "kind": "Schedule",
            "metadata": {"name": "daily", "namespace": "velero"},
        }
    )
    assert names(fake_custom_objects.list_cluster_custom_object("velero.io", "v1", "schedules")) == ["daily"]
    listing = fake_custom_objects.list_namespaced_custom_object("velero.io", "v1", "anywhere", "backupstoragelocations")
    assert listing["items"] == []


def test_role_binding_to_cluster_role_is_namespaced(rbac_cluster, fake_custom_objects):
    """A ClusterRole bound by a RoleBinding applies only in the binding's namespace, not cluster-
    wide."""
    assert names(fake_custom_objects.list_namespaced_custom_object(*KV, "lab", VM)) == ["lab-vm"]
    with pytest.raises(ApiException) as err:
        patch_vm(fake_custom_objects, "lab-vm", {"metadata": {"labels": {"a": "b"}}}, namespace="lab")
    assert err.value.status == 403
    with pytest.raises(ApiException) as err:
        fake_custom_objects.list_cluster_custom_object(*KV, VM)
    assert status_of(err.value)["message"] == (
        f'virtualmachines.kubevirt.io is forbidden: User "{SA}" cannot list resource '
        '"virtualmachines" in API group "kubevirt.io" at the cluster scope'
    )


def test_resource_names_and_other_users(rbac_cluster, fake_api_client_for):
    """resourceNames limits a rule to named objects, and users without bindings are denied."""
    rbac_cluster.load_rbac(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "one-vm", "namespace": "vms"},
            "rules": [
                {
                    "apiGroups": ["kubevirt.io"],
                    "resources": ["virtualmachines"],
                    "verbs": ["get"],
                    "resourceNames": ["vm2"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "one-vm", "namespace": "vms"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "one-vm"},
            "subjects": [{"kind": "User", "name": "alice"}],
        },
    )
    alice = client.CustomObjectsApi(fake_api_client_for("alice"))
    assert get_vm(alice, "vm2")["metadata"]["name"] == "vm2"
    for call in (
        lambda: get_vm(alice, "vm1"),
        lambda: alice.list_namespaced_custom_object(*KV, "vms", VM),
    ):
        with pytest.raises(ApiException) as err:
            call()
        assert err.value.status == 403
    bob = client.CustomObjectsApi(fake_api_client_for("system:serviceaccount:vms:bob"))
    with pytest.raises(ApiException) as err:
        get_vm(bob, "vm2")
    assert err.value.status == 403


# --------------------------------------------------------------------------- faults


def test_fault_500_once_then_success(five_vms, fake_custom_objects):
    """A 500 fault fires once (the client does not retry it), then the request succeeds."""
    fault = five_vms.add_fault("GET", r"/virtualmachines/vm1$", status=500)
    with pytest.raises(ApiException) as err:
        get_vm(fake_custom_objects, "vm1")
    assert (err.value.status, status_of(err.value)["reason"]) == (500, "InternalError")
    assert get_vm(fake_custom_objects, "vm1")["metadata"]["name"] == "vm1"
    assert fault.fired == 1 and five_vms.count("get", name="vm1") == 2


def test_fault_429_with_retry_after(five_vms, fake_custom_objects):
    """A 429 with Retry-After reaches the caller on PATCH; on GET urllib3 honours Retry-After and
    retries."""
    five_vms.add_fault("PATCH", VM, status=429, retry_after=7)
    with pytest.raises(ApiException) as err:
        patch_vm(fake_custom_objects, "vm1", {"metadata": {"annotations": {"a": "1"}}})
    assert err.value.status == 429
    assert err.value.headers["Retry-After"] == "7"
    assert status_of(err.value)["details"]["retryAfterSeconds"] == 7
    five_vms.add_fault("GET", VM, status=429, retry_after=0)
    assert get_vm(fake_custom_objects, "vm1")["metadata"]["name"] == "vm1"
    assert [r.status for r in five_vms.requests("get")] == [429, 200]


def test_dropped_connection_raises_in_the_client(five_vms, fake_custom_objects):
    """A connection closed without an answer raises on PATCH; urllib3 retries an idempotent GET up
    to 3 times."""
    five_vms.add_fault("PATCH", VM, drop=True)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        patch_vm(fake_custom_objects, "vm1", {"metadata": {"annotations": {"a": "1"}}})
    five_vms.add_fault("GET", VM, drop=True, times=1)
    assert get_vm(fake_custom_objects, "vm1")["metadata"]["name"] == "vm1"
    five_vms.add_fault("GET", VM, drop=True, times=4)
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        get_vm(fake_custom_objects, "vm1")
    assert [r.dropped for r in five_vms.requests("get")] == [True, False, True, True, True, True]


def test_delay_longer_than_request_timeout_times_out(five_vms, fake_custom_objects):
    """A request held past _request_timeout makes the client time out; the server still applies
    the patch once it goes on."""
    gate, arrived = threading.Event(), threading.Event()
    five_vms.add_fault("PATCH", VM, hold=gate)
    five_vms.on_request(lambda r: arrived.set() if r.method == "PATCH" else None)
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        patch_vm(
            fake_custom_objects,
            "vm1",
            {"metadata": {"annotations": {"late": "yes"}}},
            _request_timeout=0.2,
        )
    # The server has not answered: the client gave up on its own timeout, not on an answer.
    assert arrived.wait(30)
    (held,) = five_vms.requests("patch")
    assert held.status is None and not held.done.is_set()
    assert five_vms.get(VM, "vm1", namespace="vms")["metadata"].get("annotations") is None
    gate.set()
    assert held.done.wait(30)
    assert held.status == 200
    assert five_vms.get(VM, "vm1", namespace="vms")["metadata"]["annotations"] == {"late": "yes"}


# --------------------------------------------------------------------------- request log and hooks


def test_request_log_records_and_counts(five_vms, fake_custom_objects):
    """Every request is logged with verb, query, content type, parsed body, user and status."""
    fake_custom_objects.list_namespaced_custom_object(*KV, "vms", VM, label_selector="tier=db")
    patch_vm(fake_custom_objects, "vm1", {"metadata": {"annotations": {"a": "1"}}})
    with pytest.raises(ApiException):
        get_vm(fake_custom_objects, "missing")
    assert five_vms.counts() == {"list": 1, "patch": 1, "get": 1}
    listed, patched, missing = five_vms.requests()
    assert listed.query == {"labelSelector": "tier=db"} and listed.status == 200
    assert patched.body == {"metadata": {"annotations": {"a": "1"}}}
    assert (patched.user, patched.namespace, patched.name) == (DEFAULT_USER, "vms", "vm1")
    assert missing.status == 404
    assert five_vms.count("patch", resource=VM, status=200) == 1


def test_on_request_hook_can_race_a_read_modify_write(five_vms, fake_custom_objects):
    """A hook that modifies the object between a client's GET and its PATCH makes the PATCH
    conflict."""

    @five_vms.on_request
    def meddle(record):
        if record.verb == "patch":
            five_vms.modify(VM, "vm1", lambda o: {**o, "spec": {"running": False}}, namespace="vms")

    rv = get_vm(fake_custom_objects, "vm1")["metadata"]["resourceVersion"]
    with pytest.raises(ApiException) as err:
        patch_vm(
            fake_custom_objects,
            "vm1",
            {"metadata": {"resourceVersion": rv, "annotations": {"a": "1"}}},
        )
    assert err.value.status == 409
    assert five_vms.hook_errors == []


def test_dry_run_does_not_persist(five_vms, fake_custom_objects):
    """dryRun=All validates and answers like a real write but stores nothing."""
    answer = patch_vm(fake_custom_objects, "vm1", {"metadata": {"annotations": {"a": "1"}}}, dry_run="All")
    assert answer["metadata"]["annotations"] == {"a": "1"}
    assert "annotations" not in get_vm(fake_custom_objects, "vm1")["metadata"]


def test_server_clock_is_injectable():
    """A fixed clock makes creationTimestamp deterministic."""
    with FakeKubeServer(clock=lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) as server:
        seeded = server.seed(vm("vm1"))[0]
    assert seeded["metadata"]["creationTimestamp"] == "2026-01-02T03:04:05Z"
