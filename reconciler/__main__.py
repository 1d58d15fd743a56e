"""`python -m reconciler` runs the same CLI as the console script."""

from reconciler.cli import entry

entry()
