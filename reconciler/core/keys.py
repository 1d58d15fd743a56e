"""Every annotation and label key the job reads or writes, named once.

The upstream keys must match the kubevirt-datamover controller byte for byte (design 2.1, 3, 5).
"""

from typing import Final

PREFIX: Final = "kubevirt-datamover.io/"

# Read live by the controller from the VirtualMachine: the job's one lever (design 2.1 rule 3).
MAX_INCREMENTAL: Final = PREFIX + "max-incremental-backups"

# Policy, on a Velero Schedule; the first two may be overridden on a VirtualMachine (design 3).
INTERVAL: Final = PREFIX + "force-full-backup-interval"
MAX_AGE: Final = PREFIX + "force-full-backup-max-age"
MAX_PER_RUN: Final = PREFIX + "force-full-backup-max-per-run"
DAYS: Final = PREFIX + "force-full-backup-days"  # calendar policy
MAX_GROWTH: Final = PREFIX + "force-full-backup-max-growth"  # growth policy
POLICY_KEYS: Final = (INTERVAL, MAX_AGE, MAX_PER_RUN, DAYS, MAX_GROWTH)
VM_POLICY_KEYS: Final = (INTERVAL, MAX_AGE, DAYS, MAX_GROWTH)
OFF: Final = "off"

# On the controller's VirtualMachineBackupTrackers: the first 16 hex characters of sha256(VM name).
# The controller finds a VM's tracker by this label (design 2.1 rule 4).
VM_NAME_HASH: Final = PREFIX + "vm-name-hash"

# Written by the job on the VirtualMachines it manages (design 4.7, 5).
DUE_LABEL: Final = PREFIX + "full-backup-due"
# The forward-compatible signal (design 6.4), written only with `--signal annotation`: a one-off full
# request a future plugin would copy onto the DataUpload.
FORCE_SIGNAL: Final = PREFIX + "force-full-backup"
STATE: Final = PREFIX + "full-backup-reconciler"

# Events (design 6).
EVENT_FORCED: Final = "FullBackupForced"
EVENT_LANDED: Final = "FullBackupLanded"
EVENT_BROKEN: Final = "BackupChainBroken"
EVENT_BLOCKED: Final = "FullBackupBlocked"
EVENT_INVALID_POLICY: Final = "InvalidFullBackupPolicy"
EVENT_SIZE_MISMATCH: Final = "BackupObjectSizeMismatch"
