"""The reconciling core: desired + live -> a plan (:mod:`.planner`, with :mod:`.policy` and
:mod:`.targeting`), and a plan -> provider writes, re-checked (:mod:`.applier`)."""
