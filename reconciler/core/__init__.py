"""The functional core: pure functions over frozen domain objects.

No I/O, no clock, no environment, no logging. `now` and every fetched document come in as
arguments; decisions and the patches that would carry them out go out as data. An
import-linter contract (pyproject.toml) keeps clients, logging and the shell out of here.
"""
