"""Adapters that read the outside world: the cluster, the bucket, snapshots."""
