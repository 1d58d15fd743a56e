"""The deployment manifests, validated offline.

* Every object (each resource file of the base, and each overlay as `kubectl kustomize` renders
  it) validates strictly (unknown fields are errors) against the Kubernetes
  1.37 schemas of the `kubernetes-validate` package.
* Velero objects validate against the Schedule CRD schema vendored in `tests/data/` (unknown
  fields are errors there too, as with `kubectl apply`'s default strict field validation), and
  RBAC rules name custom resources exactly as the upstream Velero and KubeVirt CRDs do.
* The RBAC rules are the least privilege the program needs, the CronJob is hardened and timed
  before the Velero window, and the example Schedule's policy parses with the program's parser.
* The overlays shown in `README.md` render and validate as written.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from croniter import croniter
from kubernetes_validate import utils as kv_utils
from referencing import Registry, Resource

from reconciler.cli import parser
from reconciler.core import keys
from reconciler.core.objects import parse_schedule
from reconciler.core.policy import schedule_policy
from tests.kubectl import kustomize

REPO = Path(__file__).resolve().parents[1]
MANIFESTS = REPO / "manifests"
DATA = Path(__file__).resolve().parent / "data"
INSTALL_DOC = REPO / "README.md"  # its "Install on a cluster" section
K8S_VERSION = "1.37"
OVERLAYS = {"velero": "velero", "openshift-adp": "openshift-adp"}  # overlay directory -> namespace
NAME = "full-backup-reconciler"
PLACEHOLDER_IMAGE = "ghcr.io/example/full-backup-reconciler"
EXAMPLE_SCHEDULE = MANIFESTS / "examples" / "velero-schedule.yaml"
EXPECTED_OBJECTS = {
    ("ServiceAccount", NAME),
    ("Role", NAME),
    ("RoleBinding", NAME),
    ("ClusterRole", NAME),
    ("ClusterRoleBinding", NAME),
    ("CronJob", NAME),
}
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding"}

# (apiGroup, resource, verb, resourceNames) the program needs, and why.
ROLE_RULES = {
    ("", "secrets", "get", ("cloud-credentials",)),  # the BSL credential Secret, read by name
    ("velero.io", "schedules", "list", ()),  # paged list of the Schedules carrying a policy
    ("velero.io", "backupstoragelocations", "list", ()),  # bucket, prefix, endpoint, credential
    # OADP's controller Deployment beside Velero, read by name for its --max-incremental-backups
    ("apps", "deployments", "get", ("oadp-kubevirt-datamover-controller-manager",)),
}
CLUSTER_ROLE_RULES = {
    ("kubevirt.io", "virtualmachines", "list", ()),  # one paged cluster-wide list per run
    ("kubevirt.io", "virtualmachines", "get", ()),  # re-read after a 409 conflict
    ("kubevirt.io", "virtualmachines", "patch", ()),  # merge patch of annotations/labels
    ("", "events", "create", ()),  # Events on VMs and Schedules; never patched or updated
    ("backup.kubevirt.io", "virtualmachinebackuptrackers", "list", ()),  # one paged list, read only
}
# The upstream install's controller, in its own namespace (manifests/upstream-controller).
UPSTREAM_CONTROLLER_RULES = {
    ("apps", "deployments", "get", ("kubevirt-datamover-controller-manager",)),
}


# ---------------------------------------------------------------------------------- helpers


def load_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def k8s_validate(obj: dict[str, Any]) -> None:
    """Strict validation against the Kubernetes schemas (unknown fields are errors)."""
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def _openapi_to_jsonschema(node: Any) -> Any:
    """A CRD's structural OpenAPI v3 schema as JSON Schema, with unknown fields rejected.

    The API server prunes unknown fields and `kubectl apply` (strict field validation, the
    default) rejects them, so every object schema with `properties` gets
    `additionalProperties: false` unless it preserves unknown fields.
    """
    if isinstance(node, list):
        return [_openapi_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _openapi_to_jsonschema(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [*([out["type"]] if isinstance(out["type"], str) else out["type"]), "null"]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def _k8s_definitions() -> Resource[Any]:
    """The strict definitions of the same Kubernetes release (their `$id` is an absolute URI)."""
    (version,) = {v for v in kv_utils.all_versions() if kv_utils.major_minor(v) == K8S_VERSION}
    contents = kv_utils.schema_contents(
        f"kubernetes-json-schema/v{version}-local-strict/_definitions.json", K8S_VERSION
    )
    return Resource.from_contents(contents)


OBJECT_META_REF = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def crd_validator(name: str) -> tuple[dict[str, Any], jsonschema.protocols.Validator]:
    """(the CRD's identity, a validator for its objects); metadata is checked as ObjectMeta."""
    vendored = json.loads((DATA / name).read_text(encoding="utf-8"))
    schema = _openapi_to_jsonschema(vendored["openAPIV3Schema"])
    schema["properties"]["metadata"] = {"$ref": OBJECT_META_REF}
    registry = _k8s_definitions() @ Registry()
    return vendored["crd"], jsonschema.Draft202012Validator(schema, registry=registry)


def validate_any(obj: dict[str, Any]) -> None:
    """Each object against the schema that knows it: a vendored CRD schema or Kubernetes'."""
    group = obj["apiVersion"].rpartition("/")[0]
    if group == "velero.io" and obj["kind"] == "Schedule":
        crd, validator = crd_validator("velero-schedule-v1.schema.json")
        assert obj["apiVersion"] == f"{crd['group']}/{crd['version']}"
        validator.validate(obj)
    else:
        k8s_validate(obj)  # raises SchemaNotFoundError for a kind it does not know: that fails too


def rendered(overlay: str) -> list[dict[str, Any]]:
    return kustomize(MANIFESTS / "overlays" / overlay)


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


def rule_set(role: dict[str, Any]) -> set[tuple[str, str, str, tuple[str, ...]]]:
    out = set()
    for rule in role.get("rules") or []:
        assert set(rule) <= {"apiGroups", "resources", "verbs", "resourceNames"}, rule  # no nonResourceURLs
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    out.add((group, resource, verb, tuple(rule.get("resourceNames") or ())))
    return out


def pod_spec(cronjob: dict[str, Any]) -> dict[str, Any]:
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def dockerfile_user() -> str:
    users = [
        line.split(None, 1)[1].strip()
        for line in (REPO / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if line.startswith("USER ")
    ]
    return users[-1]


def overlay_images(overlay: str) -> dict[str, dict[str, str]]:
    k = yaml.safe_load((MANIFESTS / "overlays" / overlay / "kustomization.yaml").read_text(encoding="utf-8"))
    return {i["name"]: i for i in k.get("images") or []}


# ---------------------------------------------------------------------------- every file


def test_validates_against_the_newest_kubernetes_release_the_package_knows() -> None:
    assert kv_utils.major_minor(kv_utils.latest_version()) == K8S_VERSION


def test_every_overlay_is_tested() -> None:
    assert {p.name for p in (MANIFESTS / "overlays").iterdir() if p.is_dir()} == set(OVERLAYS)


# manifests/monitoring (a PrometheusRule, a generated ConfigMap) is not in Kubernetes' own schemas:
# tests/test_monitoring.py renders it with kubectl and checks it there.
@pytest.mark.parametrize(
    "path",
    sorted(
        p.relative_to(MANIFESTS).as_posix()
        for p in MANIFESTS.rglob("*.yaml")
        if p.relative_to(MANIFESTS).parts[0] != "monitoring"
    ),
)
def test_every_manifest_file_validates(path: str) -> None:
    file = MANIFESTS / path
    if file.name == "kustomization.yaml":
        assert kustomize(file.parent)  # a kustomization must render (and its objects are checked below)
        return
    docs = load_docs(file)
    assert docs, f"{path}: empty"
    for obj in docs:
        validate_any(obj)


def test_base_is_namespace_free_so_only_an_overlay_is_applied() -> None:
    k = yaml.safe_load((MANIFESTS / "base" / "kustomization.yaml").read_text(encoding="utf-8"))
    assert "namespace" not in k
    objects = kustomize(MANIFESTS / "base")
    assert {(o["kind"], o["metadata"]["name"]) for o in objects} == EXPECTED_OBJECTS
    for obj in objects:
        assert "namespace" not in obj["metadata"], obj["kind"]
        for subject in obj.get("subjects") or []:
            assert "namespace" not in subject


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_overlay_renders_to_valid_kubernetes_objects(overlay: str) -> None:
    objects = rendered(overlay)
    assert {(o["kind"], o["metadata"]["name"]) for o in objects} == EXPECTED_OBJECTS
    for obj in objects:
        k8s_validate(obj)
        assert obj["metadata"]["labels"]["app.kubernetes.io/name"] == NAME


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_overlay_puts_everything_in_the_velero_namespace(overlay: str) -> None:
    namespace = OVERLAYS[overlay]
    objects = rendered(overlay)
    for obj in objects:
        if obj["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in obj["metadata"], obj["kind"]
        else:
            assert obj["metadata"]["namespace"] == namespace, obj["kind"]
    # The Role (and so the Secrets it opens) lives in Velero's namespace, where the CronJob runs:
    # --velero-namespace then defaults to the pod's namespace.
    assert one(objects, "Role")["metadata"]["namespace"] == namespace
    assert one(objects, "CronJob")["metadata"]["namespace"] == namespace
    for kind in ("RoleBinding", "ClusterRoleBinding"):
        assert one(objects, kind)["subjects"] == [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}]


# ---------------------------------------------------------------------------------- RBAC


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_rbac_is_exactly_what_the_program_needs(overlay: str) -> None:
    objects = rendered(overlay)
    role, cluster_role = one(objects, "Role"), one(objects, "ClusterRole")
    assert rule_set(role) == ROLE_RULES
    assert rule_set(cluster_role) == CLUSTER_ROLE_RULES
    assert "aggregationRule" not in cluster_role
    for rule in [*role["rules"], *cluster_role["rules"]]:
        assert "*" not in json.dumps(rule)
        assert not {"watch", "update", "delete", "deletecollection", "escalate", "bind", "impersonate"} & set(
            rule["verbs"]
        )
    # The credential Secret rule stays first: the install guide's overlay patch adds names at /rules/0.
    assert role["rules"][0]["resources"] == ["secrets"]


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_bindings_and_service_account_fit_together(overlay: str) -> None:
    objects = rendered(overlay)
    sa, cronjob = one(objects, "ServiceAccount"), one(objects, "CronJob")
    rb, crb = one(objects, "RoleBinding"), one(objects, "ClusterRoleBinding")
    assert rb["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": one(objects, "Role")["metadata"]["name"],
    }
    assert crb["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": one(objects, "ClusterRole")["metadata"]["name"],
    }
    for binding in (rb, crb):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": sa["metadata"]["namespace"]}
        ]
    spec = pod_spec(cronjob)
    assert spec["serviceAccountName"] == sa["metadata"]["name"]
    assert spec.get("automountServiceAccountToken", True) is True
    assert sa.get("automountServiceAccountToken", True) is True


def test_rbac_names_custom_resources_as_their_crds_declare() -> None:
    crds = {(c["group"], c["plural"]): c for c in yaml.safe_load((DATA / "crd-names.yaml").read_text(encoding="utf-8"))}
    schedule_crd, _ = crd_validator("velero-schedule-v1.schema.json")
    assert (schedule_crd["group"], schedule_crd["names"]["plural"]) in crds
    for overlay in OVERLAYS:
        objects = rendered(overlay)
        for group, resource, _, _ in rule_set(one(objects, "Role")) | rule_set(one(objects, "ClusterRole")):
            if group in ("", "apps"):  # built into every API server
                assert (group, resource) in {("", "secrets"), ("", "events"), ("apps", "deployments")}
                continue
            crd = crds[(group, resource)]  # KeyError: a group/plural no upstream CRD declares
            assert crd["scope"] == "Namespaced"
            # the version the program reads and writes
            assert ("v1alpha1" if group == "backup.kubevirt.io" else "v1") in crd["versions"]
    # Patching the VM never needs virtualmachines/status: the CRD has a status subresource and
    # the program patches only metadata of the main resource.
    assert "status" in crds[("kubevirt.io", "virtualmachines")]["subresources"]


def test_upstream_controller_access_is_one_named_get_in_its_namespace() -> None:
    """The upstream install's Deployment: a Role in kubevirt-datamover-system, bound to the job's
    ServiceAccount in Velero's namespace, allowing `get` on that one Deployment and nothing else."""
    objects = kustomize(MANIFESTS / "upstream-controller")
    assert {(o["kind"], o["metadata"]["namespace"]) for o in objects} == {
        ("Role", "kubevirt-datamover-system"),
        ("RoleBinding", "kubevirt-datamover-system"),
    }
    role, binding = one(objects, "Role"), one(objects, "RoleBinding")
    assert rule_set(role) == UPSTREAM_CONTROLLER_RULES
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NAME, "namespace": OVERLAYS["velero"]}]
    for obj in objects:
        k8s_validate(obj)


# ------------------------------------------------------------------------------- CronJob


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_cronjob_is_hardened(overlay: str) -> None:
    cronjob = one(rendered(overlay), "CronJob")
    spec, job = cronjob["spec"], cronjob["spec"]["jobTemplate"]["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] > 0
    assert job["activeDeadlineSeconds"] > 0
    assert 0 <= job["backoffLimit"] <= 3
    assert job["ttlSecondsAfterFinished"] > 0
    pod = pod_spec(cronjob)
    assert pod["restartPolicy"] == "Never"
    for forbidden in ("hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace"):
        assert not pod.get(forbidden)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert not pod.get("initContainers")
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc.get("privileged", False) is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc.get("runAsUser", 1) != 0 and pod["securityContext"].get("runAsUser", 1) != 0
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) >= {"cpu", "memory"}
    # One writable path, /tmp, for the temporary CA bundle of a BSL with caCert; HOME points there.
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert {"name": "HOME", "value": "/tmp"} in container["env"]
    # The image: the overlay's `images:` entry applied to the placeholder.
    entry = overlay_images(overlay)[PLACEHOLDER_IMAGE]
    assert container["image"] == f"{entry['newName']}:{entry['newTag']}"


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_cronjob_args_are_what_the_cli_accepts(overlay: str) -> None:
    (container,) = pod_spec(one(rendered(overlay), "CronJob"))["containers"]
    assert "command" not in container  # the image's ENTRYPOINT is the console script
    assert container["args"] == ["run", "--log-format", "json"]
    args = parser().parse_args(container["args"])
    assert args.command == "run" and args.log_format == "json" and not args.dry_run
    assert args.velero_namespace is None  # defaults to the pod's namespace: the overlay's


def test_velero_overlay_runs_as_the_images_numeric_user() -> None:
    user = dockerfile_user()
    assert re.fullmatch(r"\d+:\d+", user), user
    uid, gid = (int(x) for x in user.split(":"))
    security = pod_spec(one(rendered("velero"), "CronJob"))["securityContext"]
    assert (security["runAsUser"], security["runAsGroup"]) == (uid, gid)
    assert uid != 0 and gid != 0


def test_openshift_overlay_lets_the_scc_assign_the_uid() -> None:
    pod = pod_spec(one(rendered("openshift-adp"), "CronJob"))
    for context in (pod["securityContext"], pod["containers"][0]["securityContext"]):
        assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(context)
    assert pod["securityContext"]["runAsNonRoot"] is True


def _fires(expr: str, start: datetime, count: int) -> list[datetime]:
    it = croniter(expr, start)
    return [it.get_next(datetime) for _ in range(count)]


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_cronjob_finishes_before_the_example_schedules_window(overlay: str) -> None:
    cronjob = one(rendered(overlay), "CronJob")
    (schedule,) = load_docs(EXAMPLE_SCHEDULE)
    assert cronjob["spec"]["timeZone"] == "Etc/UTC"  # Velero reads a Schedule without CRON_TZ= as UTC
    assert "CRON_TZ" not in schedule["spec"]["schedule"] and "TZ=" not in schedule["spec"]["schedule"]
    latest_end = timedelta(
        seconds=cronjob["spec"]["startingDeadlineSeconds"]
        + cronjob["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"]
    )
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for run in _fires(cronjob["spec"]["schedule"], start, 60):
        (window,) = _fires(schedule["spec"]["schedule"], run, 1)
        lead = window - run
        assert lead == timedelta(minutes=15), (run, window)
        assert latest_end < lead  # even a run started at the deadline ends before the window


# --------------------------------------------------------------------- example Schedule


def test_example_schedule_matches_the_velero_crd() -> None:
    crd, validator = crd_validator("velero-schedule-v1.schema.json")
    (schedule,) = load_docs(EXAMPLE_SCHEDULE)
    assert schedule["kind"] == crd["names"]["kind"]
    validator.validate(schedule)
    # The validator has teeth: a misspelt field and an unquoted number are rejected.
    typo = copy.deepcopy(schedule)
    typo["spec"]["template"]["snapshotMovedata"] = True
    assert list(validator.iter_errors(typo))
    unquoted = copy.deepcopy(schedule)
    unquoted["metadata"]["annotations"][keys.INTERVAL] = 7
    assert list(validator.iter_errors(unquoted))


def test_example_schedule_carries_a_policy_the_program_accepts() -> None:
    (schedule,) = load_docs(EXAMPLE_SCHEDULE)
    assert schedule["metadata"]["namespace"] == OVERLAYS["velero"]
    policy, errors = schedule_policy("velero/nightly-vms", schedule["metadata"]["annotations"])
    assert errors == ()
    assert policy is not None and policy.interval == 7 and policy.max_age == timedelta(days=7)
    parsed = parse_schedule(schedule)
    assert parsed.scope.snapshot_move_data is True
    assert croniter.is_valid(parsed.cron)


def test_the_example_schedule_is_not_applied_with_the_overlays() -> None:
    for overlay in OVERLAYS:
        assert all(o["kind"] != "Schedule" for o in rendered(overlay))


# -------------------------------------------------------------- the install guide's overlays


def _doc_blocks() -> list[tuple[str, str]]:
    """```yaml blocks of the install guide whose first line names a file under manifests/."""
    text = INSTALL_DOC.read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL):
        first = block.splitlines()[0]
        m = re.fullmatch(r"# (manifests/\S+\.yaml)", first.strip())
        if m:
            out.append((m.group(1), block))
    return out


def test_install_guide_shows_overlay_files() -> None:
    assert len(_doc_blocks()) >= 2


@pytest.mark.parametrize("target, block", _doc_blocks())
def test_install_guide_overlay_renders_as_written(tmp_path: Path, target: str, block: str) -> None:
    shutil.copytree(MANIFESTS, tmp_path / "manifests")
    (tmp_path / target).write_text(block, encoding="utf-8")
    overlay = (tmp_path / target).parent
    objects = kustomize(overlay)
    for obj in objects:
        k8s_validate(obj)
    namespace = one(objects, "CronJob")["metadata"]["namespace"]
    assert namespace == OVERLAYS[overlay.name]
    role = one(objects, "Role")
    secret_rule = role["rules"][0]
    assert secret_rule["resources"] == ["secrets"] and secret_rule["verbs"] == ["get"]
    assert secret_rule["resourceNames"][0] == "cloud-credentials"
    k = yaml.safe_load(block)
    # Every overlay of the guide points at a real image and adds at least one credential Secret.
    image = pod_spec(one(objects, "CronJob"))["containers"][0]["image"]
    assert not image.startswith(PLACEHOLDER_IMAGE) or not k.get("images")
    assert len(secret_rule["resourceNames"]) > 1


def _allowed(objects: list[dict[str, Any]], verb: str, group: str, resource: str, name: str, namespace: str) -> bool:
    """RBAC's answer for the ServiceAccount (namespace "": every namespace, so only the ClusterRole)."""
    roles = [one(objects, "ClusterRole")]
    role = one(objects, "Role")
    if namespace == role["metadata"]["namespace"]:
        roles.append(role)
    for rule in (r for role_ in roles for r in role_["rules"]):
        names = rule.get("resourceNames")
        if (
            verb in rule["verbs"]
            and group in rule["apiGroups"]
            and resource in rule["resources"]
            and (not names or name in names)
        ):
            return True
    return False


def test_install_guide_commands_match_the_manifests() -> None:
    text = INSTALL_DOC.read_text(encoding="utf-8")
    for path in set(re.findall(r"\bmanifests/[\w./-]+", text)):
        assert (REPO / path.rstrip(".")).exists(), path
    assert "kubectl apply -k manifests/overlays/velero\n" in text
    objects = rendered("velero")
    sa = one(objects, "ServiceAccount")["metadata"]
    assert f"SA=system:serviceaccount:{sa['namespace']}:{sa['name']}" in text
    assert f"create job --from=cronjob/{one(objects, 'CronJob')['metadata']['name']} " in text
    for key in re.findall(r"kubevirt-datamover\.io/[\w-]+", text):
        assert key in {
            keys.INTERVAL,
            keys.MAX_AGE,
            keys.MAX_PER_RUN,
            keys.DAYS,
            keys.MAX_GROWTH,
            keys.DUE_LABEL,
            keys.MAX_INCREMENTAL,
            keys.STATE,
            keys.VM_NAME_HASH,
            keys.FORCE_SIGNAL,
        }, key
    # Each `kubectl auth can-i` line and the answer under it agree with the rendered RBAC.
    checks = re.findall(r"\$ kubectl auth can-i (\S+) (\S+) (-n \S+|--all-namespaces) --as=\$SA\n(yes|no)\n", text)
    assert len(checks) >= 6
    plural = {"secret": "secrets"}
    for verb, what, where, answer in checks:
        kind, _, name = what.partition("/")
        resource, _, group = kind.partition(".")
        namespace = "" if where == "--all-namespaces" else where.split()[1]
        assert _allowed(objects, verb, group, plural.get(resource, resource), name, namespace) == (answer == "yes"), (
            verb,
            what,
            where,
        )
