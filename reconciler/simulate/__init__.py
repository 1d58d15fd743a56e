"""`simulate`: a what-if over W backup windows for V VMs on one schedule with a policy.

One job per module: `scenario` (what is asked and answered), `model` (the windows, with the real
decisions and a model of the upstream controller), `table` (the table and `-o json`), `plot`
(`--plot FILE.png`) and `command` (the command line). The CLI needs `add_parser` and
`cmd_simulate`; the rest is here for tests and the benchmark.
"""

from reconciler.simulate.command import add_parser, cmd_simulate, scenario_from_args
from reconciler.simulate.model import compare, run
from reconciler.simulate.scenario import Result, Scenario, WindowStats, cycle_windows
from reconciler.simulate.table import render_table, result_doc

__all__ = [
    "Result",
    "Scenario",
    "WindowStats",
    "add_parser",
    "cmd_simulate",
    "compare",
    "cycle_windows",
    "render_table",
    "result_doc",
    "run",
    "scenario_from_args",
]
