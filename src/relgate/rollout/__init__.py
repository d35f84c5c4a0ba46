"""Progressive rollouts: canary steps and blue-green switches judged by analysis (pure).

    config.py    the ``rollout:`` block of an environment (all_at_once, canary, blue_green)
    states.py    RolloutState, PausedBy, AnalysisPhase and the transition table
    commands.py  router commands (SetCanaryWeight, AllToStable, SwitchTo, ScaleDownOld), events
    model.py     Rollout: the aggregate; each operation returns the router commands to issue
    snapshot.py  Rollout.to_dict / from_dict for a row's JSON column

docs/rollout.md is the reference. Not yet wired: relgate.yaml does not accept
``rollout:`` and no deployment runs a Rollout; the worker will.
"""
