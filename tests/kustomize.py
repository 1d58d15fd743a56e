"""A kustomize renderer for the subset of kustomization features `manifests/` uses.

`render(directory)` returns the objects `kubectl apply -k directory` (or `kustomize build`) would
send, for kustomizations that use only:

* `resources`: local YAML files (one or more documents) and local directories holding a
  kustomization;
* `patches`: JSON 6902 patches (`add`, `remove`, `replace`, `test`; inline `patch` or `path`),
  which need a `target`; and strategic-merge patches of maps and of the pod-spec lists that
  merge by key (containers, volumes, env, volumeMounts, ports, ...), other lists being replaced,
  `null` deleting a key;
* `namespace`: set on every namespaced object, and on RoleBinding/ClusterRoleBinding subjects
  named `default`, exactly as kustomize's NamespaceTransformer does;
* `labels` with `includeSelectors: false` and no `includeTemplates`: added to `metadata.labels`;
* `images`: `newName`, `newTag`, `digest`, applied to every `containers`/`initContainers` image.

After the build, ServiceAccount references in binding subjects are fixed up the way kustomize's
name-reference transformer does it: a subject naming a ServiceAccount of the build gets that
ServiceAccount's final name and namespace (that is how a namespace-free base's binding ends up
pointing at the ServiceAccount in the overlay's namespace). Output is in kustomize's default
("legacy") order.

Anything outside this subset raises `Unsupported` instead of being rendered approximately.
Where kustomize is lenient the renderer is stricter: a patch whose target matches no object is
an error (kustomize silently applies it to nothing), and a patch may not rename an object.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Unsupported", "find", "render"]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
FIELDS = {"apiVersion", "kind", "resources", "namespace", "labels", "images", "patches"}

# Kinds kustomize knows to be cluster-scoped (it never sets their namespace). A kind not listed
# is namespaced, as kustomize assumes for custom resources.
CLUSTER_SCOPED = {
    "APIService", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding", "ComponentStatus",
    "CSIDriver", "CSINode", "CustomResourceDefinition", "FlowSchema", "IngressClass",
    "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding", "MutatingWebhookConfiguration",
    "Namespace", "Node", "PersistentVolume", "PriorityClass", "PriorityLevelConfiguration",
    "RuntimeClass", "StorageClass", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration", "VolumeAttachment",
}
# Kinds whose namespace transformation touches more than metadata.namespace: outside the subset.
NAMESPACE_SPECIAL = {"Namespace", "APIService", "CustomResourceDefinition"}
BINDINGS = {"RoleBinding", "ClusterRoleBinding"}

# kustomize's legacy output order (kyaml/resid/gvk.go): these kinds first, in this order...
ORDER_FIRST = [
    "Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition", "ServiceAccount",
    "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ConfigMap",
    "Secret", "Endpoints", "Service", "LimitRange", "PriorityClass", "PersistentVolume",
    "PersistentVolumeClaim", "Deployment", "StatefulSet", "CronJob", "PodDisruptionBudget",
]
# ...these last, everything else in between.
ORDER_LAST = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]

# Strategic-merge patch: lists of the pod spec that merge element-wise on a key (patchMergeKey).
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "volumes": "name",
    "env": "name", "imagePullSecrets": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "ports": "containerPort",
}
# Lists that also merge in a strategic-merge patch, but are outside the subset.
MERGE_UNSUPPORTED = {"finalizers", "ownerReferences", "topologySpreadConstraints", "hostAliases",
                     "resourceClaims", "resizePolicy", "schedulingGates"}


class Unsupported(ValueError):
    """The kustomization uses something this renderer does not render faithfully."""


@dataclass
class _Res:
    obj: dict[str, Any]
    origin: str  # the file it came from, for messages
    org_name: str  # name and namespace as first loaded (kustomize's "original id")
    org_namespace: str

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def name(self) -> str:
        return str(self.obj["metadata"].get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.obj["metadata"].get("namespace", "") or "")

    def ident(self) -> tuple[str, str, str, str]:
        return (str(self.obj.get("apiVersion", "")), self.kind, _effective_ns(self.kind, self.namespace), self.name)


def _effective_ns(kind: str, namespace: str) -> str:
    if kind in CLUSTER_SCOPED:
        return ""
    return namespace or "default"


# ------------------------------------------------------------------------------------ public


def find(directory: str | Path) -> Path:
    """The kustomization file of a directory."""
    directory = Path(directory)
    found = [directory / n for n in KUSTOMIZATION_FILES if (directory / n).is_file()]
    if len(found) != 1:
        raise Unsupported(f"{directory}: expected exactly one of {', '.join(KUSTOMIZATION_FILES)}, found {len(found)}")
    return found[0]


def render(directory: str | Path) -> list[dict[str, Any]]:
    """The objects `kubectl apply -k directory` would apply, in kustomize's output order."""
    resources = _build(Path(directory).resolve(), stack=())
    _fix_service_account_references(resources)
    _check_unique(resources, str(directory))
    resources.sort(key=_order)
    return [r.obj for r in resources]


# ------------------------------------------------------------------------------------ build


def _build(directory: Path, stack: tuple[Path, ...]) -> list[_Res]:
    if directory in stack:
        raise Unsupported(f"{directory}: kustomization cycle")
    kfile = find(directory)
    k = yaml.safe_load(kfile.read_text(encoding="utf-8")) or {}
    unknown = set(k) - FIELDS
    if unknown:
        raise Unsupported(f"{kfile}: unsupported fields {sorted(unknown)}")
    if k.get("apiVersion", "kustomize.config.k8s.io/v1beta1") != "kustomize.config.k8s.io/v1beta1" or \
            k.get("kind", "Kustomization") != "Kustomization":
        raise Unsupported(f"{kfile}: not a kustomize.config.k8s.io/v1beta1 Kustomization")

    resources: list[_Res] = []
    for entry in k.get("resources") or []:
        if "://" in entry or entry.startswith(("github.com/", "git@")):
            raise Unsupported(f"{kfile}: remote resource {entry!r}")
        path = (directory / entry).resolve()
        if path.is_dir():
            resources += _build(path, (*stack, directory))
        elif path.is_file():
            resources += _load_file(path)
        else:
            raise Unsupported(f"{kfile}: resource {entry!r} does not exist")
        _check_unique(resources, str(kfile))

    # kustomize's transformer order: patches, namespace, (prefix/suffix), labels, (annotations), images.
    for patch in k.get("patches") or []:
        _apply_patch(resources, patch, directory, kfile)
    if k.get("namespace"):
        _set_namespace(resources, str(k["namespace"]))
    for spec in k.get("labels") or []:
        _add_labels(resources, spec, kfile)
    for spec in k.get("images") or []:
        _set_image(resources, spec, kfile)
    _check_unique(resources, str(kfile))
    return resources


def _load_file(path: Path) -> list[_Res]:
    out = []
    for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        if doc is None:
            continue
        if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
            raise Unsupported(f"{path}: a document without apiVersion/kind")
        if doc["kind"] == "List" or doc["kind"].endswith("List"):
            raise Unsupported(f"{path}: List documents")
        meta = doc.setdefault("metadata", {})
        if not meta.get("name"):
            raise Unsupported(f"{path}: {doc['kind']} without metadata.name")
        if doc["kind"] in NAMESPACE_SPECIAL:
            raise Unsupported(f"{path}: kind {doc['kind']}")
        out.append(_Res(doc, str(path), str(meta["name"]), str(meta.get("namespace", "") or "")))
    return out


def _check_unique(resources: list[_Res], where: str) -> None:
    seen: dict[tuple[str, str, str, str], str] = {}
    for r in resources:
        ident = r.ident()
        if ident in seen:
            raise Unsupported(f"{where}: {ident} defined twice ({seen[ident]}, {r.origin})")
        seen[ident] = r.origin


def _order(r: _Res) -> tuple[int, str, str, str]:
    if r.kind in ORDER_FIRST:
        rank = ORDER_FIRST.index(r.kind) - len(ORDER_FIRST)
    elif r.kind in ORDER_LAST:
        rank = 1 + ORDER_LAST.index(r.kind)
    else:
        rank = 0
    return (rank, str(r.obj.get("apiVersion", "")), r.namespace, r.name)


# ---------------------------------------------------------------------------- transformers


def _set_namespace(resources: list[_Res], namespace: str) -> None:
    for r in resources:
        if r.kind not in CLUSTER_SCOPED:
            r.obj["metadata"]["namespace"] = namespace
        if r.kind in BINDINGS:
            # kustomize's default (setRoleBindingSubjects: defaultOnly): only subjects named "default".
            for subject in r.obj.get("subjects") or []:
                if subject.get("name") == "default":
                    subject["namespace"] = namespace


def _add_labels(resources: list[_Res], spec: dict[str, Any], kfile: Path) -> None:
    unknown = set(spec) - {"pairs", "includeSelectors", "includeTemplates"}
    if unknown or spec.get("includeSelectors") or spec.get("includeTemplates"):
        raise Unsupported(f"{kfile}: labels entry {spec}: only pairs with includeSelectors: false")
    for r in resources:
        labels = r.obj["metadata"].setdefault("labels", {})
        labels.update({str(k): str(v) for k, v in (spec.get("pairs") or {}).items()})


def split_image(image: str) -> tuple[str, str, str]:
    """`registry:5000/a/b:tag@sha256:...` -> (name, tag, digest), as kustomize splits it."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    return name, tag, digest


def _set_image(resources: list[_Res], spec: dict[str, Any], kfile: Path) -> None:
    unknown = set(spec) - {"name", "newName", "newTag", "digest"}
    if unknown or not spec.get("name"):
        raise Unsupported(f"{kfile}: images entry {spec}")

    def rewrite(image: str) -> str:
        name, tag, digest = split_image(image)
        if name != spec["name"]:
            return image
        name = spec.get("newName") or name
        if spec.get("digest"):
            return f"{name}@{spec['digest']}"
        if spec.get("newTag") is not None:
            return f"{name}:{spec['newTag']}"
        return name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("containers", "initContainers") and isinstance(value, list):
                    for c in value:
                        if isinstance(c, dict) and isinstance(c.get("image"), str):
                            c["image"] = rewrite(c["image"])
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for r in resources:
        walk(r.obj)


# ------------------------------------------------------------------------------------ patches


def _select(resources: list[_Res], target: dict[str, Any], kfile: Path) -> list[_Res]:
    unknown = set(target) - {"group", "version", "kind", "name", "namespace"}
    if unknown:
        raise Unsupported(f"{kfile}: patch target fields {sorted(unknown)}")

    def full(pattern: str | None, value: str) -> bool:
        # kustomize: an empty selector field matches anything; others are anchored regexps.
        return not pattern or re.fullmatch(pattern, value) is not None

    out = []
    for r in resources:
        group, _, version = str(r.obj.get("apiVersion", "")).rpartition("/")
        if (full(target.get("group"), group) and full(target.get("version"), version)
                and full(target.get("kind"), r.kind) and full(target.get("name"), r.name)
                and full(target.get("namespace"), _effective_ns(r.kind, r.namespace))):
            out.append(r)
    return out


def _apply_patch(resources: list[_Res], entry: dict[str, Any], directory: Path, kfile: Path) -> None:
    unknown = set(entry) - {"path", "patch", "target"}
    if unknown:
        raise Unsupported(f"{kfile}: patches entry fields {sorted(unknown)}")
    if ("path" in entry) == ("patch" in entry):
        raise Unsupported(f"{kfile}: a patches entry needs exactly one of path and patch")
    text = entry["patch"] if "patch" in entry else (directory / entry["path"]).read_text(encoding="utf-8")
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    if len(docs) == 1 and isinstance(docs[0], list):  # JSON 6902
        target = entry.get("target")
        if not target:
            raise Unsupported(f"{kfile}: a JSON patch needs a target")
        selected = _select(resources, target, kfile)
        if not selected:
            raise Unsupported(f"{kfile}: patch target {target} matches nothing")
        for r in selected:
            before = (r.kind, r.name, r.namespace)
            r.obj = json6902(r.obj, docs[0])
            if (r.kind, r.name, r.namespace) != before:
                raise Unsupported(f"{kfile}: a patch may not change kind, name or namespace")
        return
    if not docs or not all(isinstance(d, dict) for d in docs):
        raise Unsupported(f"{kfile}: unparseable patch")
    if entry.get("target") and len(docs) > 1:
        raise Unsupported(f"{kfile}: several strategic-merge patches with one target")
    for doc in docs:
        if entry.get("target"):
            selected = _select(resources, entry["target"], kfile)
        else:
            meta = doc.get("metadata") or {}
            selected = [r for r in resources if r.kind == doc.get("kind") and r.org_name == meta.get("name")
                        and str(r.obj.get("apiVersion")) == doc.get("apiVersion")
                        and ("namespace" not in meta or r.org_namespace == meta["namespace"])]
        if not selected:
            what = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
            raise Unsupported(f"{kfile}: strategic-merge patch {what} matches nothing")
        body = copy.deepcopy(doc)
        for key in ("apiVersion", "kind"):
            body.pop(key, None)
        if isinstance(body.get("metadata"), dict):
            body["metadata"].pop("name", None)
            body["metadata"].pop("namespace", None)
        for r in selected:
            r.obj = strategic_merge(r.obj, body, path=f"{kfile}")


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise Unsupported(f"JSON pointer {path!r} must start with /")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    node = doc
    for p in parts[:-1]:
        if isinstance(node, list):
            if not p.isdigit() or int(p) >= len(node):
                raise Unsupported(f"JSON patch path {path!r}: no element {p}")
            node = node[int(p)]
        elif isinstance(node, dict) and p in node:
            node = node[p]
        else:
            raise Unsupported(f"JSON patch path {path!r}: no field {p!r}")
    return node


def json6902(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """RFC 6902 `add`, `remove`, `replace` and `test` on a copy of `doc`."""
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, path = op.get("op"), op.get("path", "")
        parts = _pointer(path)
        if not parts:
            raise Unsupported("JSON patch on the whole document")
        parent, last = _parent(doc, parts, path), parts[-1]
        if kind == "add":
            value = copy.deepcopy(op["value"])
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if not 0 <= index <= len(parent):
                    raise Unsupported(f"JSON patch add {path!r}: index out of range")
                parent.insert(index, value)
            elif isinstance(parent, dict):
                parent[last] = value
            else:
                raise Unsupported(f"JSON patch add {path!r}: parent is not a container")
        elif kind in ("remove", "replace", "test"):
            if isinstance(parent, list):
                if not last.isdigit() or int(last) >= len(parent):
                    raise Unsupported(f"JSON patch {kind} {path!r}: no such element")
                key: Any = int(last)
            elif isinstance(parent, dict) and last in parent:
                key = last
            else:
                raise Unsupported(f"JSON patch {kind} {path!r}: no such field")
            if kind == "remove":
                del parent[key]
            elif kind == "replace":
                parent[key] = copy.deepcopy(op["value"])
            elif parent[key] != op["value"]:
                raise Unsupported(f"JSON patch test {path!r} failed: {parent[key]!r} != {op['value']!r}")
        else:
            raise Unsupported(f"JSON patch op {kind!r}")
    return doc


def strategic_merge(target: Any, patch: Any, *, path: str = "", field: str = "") -> Any:
    """The subset of a strategic-merge patch described in the module docstring."""
    if isinstance(patch, dict):
        if any(str(k).startswith("$") for k in patch):
            raise Unsupported(f"{path}: strategic-merge directives ({[k for k in patch if str(k).startswith('$')]})")
        out = copy.deepcopy(target) if isinstance(target, dict) else {}
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = strategic_merge(out[key], value, path=f"{path}.{key}", field=key)
            else:
                out[key] = strategic_merge(None, value, path=f"{path}.{key}", field=key)
        return out
    if isinstance(patch, list):
        if field in MERGE_UNSUPPORTED:
            raise Unsupported(f"{path}: strategic merge of {field!r}")
        key = MERGE_KEYS.get(field)
        if key is None or not isinstance(target, list):
            return copy.deepcopy(patch)
        out_list = copy.deepcopy(target)
        for item in patch:
            if not isinstance(item, dict) or key not in item:
                raise Unsupported(f"{path}: {field} element without {key!r}")
            at = next((i for i, t in enumerate(out_list) if isinstance(t, dict) and t.get(key) == item[key]), None)
            if at is None:
                out_list.append(strategic_merge(None, item, path=f"{path}[{item[key]}]"))
            else:
                out_list[at] = strategic_merge(out_list[at], item, path=f"{path}[{item[key]}]")
        return out_list
    return copy.deepcopy(patch)


# ----------------------------------------------------------------------- name references


def _fix_service_account_references(resources: list[_Res]) -> None:
    """kustomize's name-reference fix-up for `subjects` of (Cluster)RoleBindings -> ServiceAccounts.

    Every subject (kustomize does not look at the subject's kind) whose name is the original name
    of exactly one ServiceAccount of the build gets that ServiceAccount's current name and, when
    it has one, namespace; a subject with a namespace only considers ServiceAccounts originally
    (else currently) in that namespace.
    """
    accounts = [r for r in resources if r.kind == "ServiceAccount" and r.obj.get("apiVersion") == "v1"]
    for r in resources:
        if r.kind not in BINDINGS or not str(r.obj.get("apiVersion", "")).startswith("rbac.authorization.k8s.io/"):
            continue
        for subject in r.obj.get("subjects") or []:
            if "name" not in subject:
                raise Unsupported(f"{r.origin}: a subject without a name")
            candidates = accounts
            if "namespace" in subject:
                ns = subject["namespace"] or "default"
                by_org = [a for a in accounts if _effective_ns(a.kind, a.org_namespace) == ns]
                candidates = by_org or [a for a in accounts if _effective_ns(a.kind, a.namespace) == ns]
            candidates = [a for a in candidates if a.org_name == subject["name"]]
            if not candidates:
                continue
            if len({(a.name, a.namespace) for a in candidates}) > 1:
                raise Unsupported(f"{r.origin}: subject {subject} matches several ServiceAccounts")
            referral = candidates[0]
            if referral.name == subject["name"] and not referral.namespace:
                continue
            subject["name"] = referral.name
            if referral.namespace:
                subject["namespace"] = referral.namespace
