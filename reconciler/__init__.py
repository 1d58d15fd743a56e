"""full-backup-reconciler: force periodic full backups of KubeVirt VMs through the kubevirt-datamover."""

__version__ = "0.1.0"
