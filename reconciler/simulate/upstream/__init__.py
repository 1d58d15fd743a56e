"""An independent model of the kubevirt-datamover controller and uploader, the oracle of the
end-to-end tests and of ``simulate``.

It decides full vs incremental the way the controller does and writes index entries the way the
uploader does, from a reading of the controller's own code, and shares no code with the job's
decisions: it decodes ``index.json`` itself (``gojson``), walks chains itself and parses the
limit itself, and imports nothing from ``reconciler.core`` or ``reconciler.core.keys`` (an
import-linter contract holds that), so a bug in the job's chain, decision, state or policy code
shows up as a disagreement instead of being shared. Pure: callers move documents to and from a
bucket and a cluster.

Where each rule comes from, all in github.com/migtools/kubevirt-datamover-controller (read, not
copied; the newest versions in the public index, whose go.mod says Go 1.25.8):

================================================  ==================================================
rule                                              upstream
================================================  ==================================================
DataUpload annotation force-full-backup ==        internal/controller/kubevirt_dataupload_controller.go
"true" (exactly) -> full, lookup skipped          ``resolveBackupMode``; key in pkg/common/constants.go
default full; incremental only when the lookup    same file, ``validateBSLCheckpoint``
found a valid chain; lookup errors -> full
latest = last entry (list order); no index,       pkg/uploader/bsl_lookup.go ``LookupLatestCheckpoint``
unreadable index, no checkpoints -> not found     (``loadVMIndex``: ``json.Unmarshal`` into VMIndex)
parent walk from the latest; an id maps to its    pkg/uploader/bsl_lookup.go ``validateCheckpointChain``,
last entry; stop at "", unknown or repeated id;   pkg/uploader/run.go ``buildCheckpointChain``
root type compared case-insensitively with
"full"; chain length counts every member
every ``files[].objectPath`` of every member      pkg/uploader/bsl_lookup.go ``validateCheckpointFiles``
must exist (``ObjectExists``; an error counts as  (sizes are never read; vmb/vmbt paths not checked);
missing, "" is missing); a break falls back to    the fallback is ``IsChainValid=false`` -> full
an older checkpoint but the chain is not valid
limit = VM annotation max-incremental-backups     kubevirt_dataupload_controller.go
(``strconv.Atoi``, >= 0; "0" unlimited) else      ``getEffectiveMaxIncrementalBackups`` and
``--max-incremental-backups`` (default 0); a VM   ``resolveBackupMode``; the flag in cmd/main.go
that cannot be read uses the global; limit > 0
and chain length - 1 >= limit -> full
tracker found by label kubevirt-datamover.io/     kubevirt_dataupload_controller.go
vm-name-hash = first 16 hex of sha256(vm name)    ``prepareVMBackupTracker``; ``HashForLabel`` in
(first match); none -> a new one whose status     pkg/common (naming); older controllers:
comes from the vmbt.json the index's last entry   ``ensureVMBackupTracker`` with the name vmbt-<vm>
names (no path, missing or unreadable archive,
no index -> no checkpoint)
not forced and lookup found: tracker's            kubevirt_dataupload_controller.go ``handleAccepted``
status.latestCheckpoint.name != the lookup's      (step 3b, the cross-check)
latest checkpoint -> full
index writes: type, parent = last id on           pkg/uploader/run.go ``updateVMIndex``,
incrementals, files, archived vmb/vmbt paths,     ``archiveKubeResources``, ``propagateReferencedBy``,
referencedBy propagated to ancestors, same id     ``mergeReferencedBy``, ``extractDiskName``;
replaced in place                                 pkg/uploader/types.go for the field names
================================================  ==================================================

Not modelled: the ``bsl-validated`` DataUpload annotation (a re-reconcile of the same DataUpload
skips the lookup), KubeVirt itself taking a full where an incremental was asked for, and the
``superseded`` marking newer uploaders write (decoded, never consulted by the lookup).
"""

from reconciler.simulate.upstream.controller import (
    FORCE_FULL_BACKUP,
    MAX_INCREMENTAL_BACKUPS,
    VM_NAME_HASH,
    Decision,
    Lookup,
    Tracker,
    TrackerLookup,
    UpstreamController,
    effective_limit,
    label_hash,
    lookup_latest_checkpoint,
    resolve_backup_mode,
)
from reconciler.simulate.upstream.gojson import IndexDocument, IndexEntry, IndexFile, UnreadableIndex, decode_index
from reconciler.simulate.upstream.uploader import append_checkpoint, archived_tracker

__all__ = [
    "FORCE_FULL_BACKUP",
    "MAX_INCREMENTAL_BACKUPS",
    "VM_NAME_HASH",
    "Decision",
    "IndexDocument",
    "IndexEntry",
    "IndexFile",
    "Lookup",
    "Tracker",
    "TrackerLookup",
    "UnreadableIndex",
    "UpstreamController",
    "append_checkpoint",
    "archived_tracker",
    "decode_index",
    "effective_limit",
    "label_hash",
    "lookup_latest_checkpoint",
    "resolve_backup_mode",
]
