"""Everything that runs a student's code, in one place, apart from the grading stages:

* `client`: the grader's side of a warm kernel (`Limits`, `Kernel.run_cell`, the
  `KernelPool` fed by the fork server, the output cap);
* `zygote`: the fork server, started as `python -m autograder.kernel.zygote`;
* `harness`: the test guard loaded into every kernel before any student code;
* `sandbox`: the defences applied to a forked kernel (namespaces, cgroups, limits).

Nothing here imports a grading stage (`autograder.execute` and above): the import
contracts in pyproject.toml ([tool.importlinter]) keep it that way.  This file stays
empty of imports, because every kernel imports `autograder.kernel.harness` through it.
"""
