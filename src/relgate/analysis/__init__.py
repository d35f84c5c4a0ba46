"""Metric analysis of a rollout: providers, verdicts per measurement and per run, actions.

relgate.analysis.config   the ``analysis:`` block of relgate.yaml (AnalysisSpec)
relgate.analysis.model    verdicts, actions, readings, measurements, results
relgate.analysis.providers  prometheus, scrape, command behind MetricProvider; the registry
relgate.analysis.criteria thresholds, comparisons with stable, Mann-Whitney U (pure)
relgate.analysis.windows  a metric's verdict over K consecutive windows (pure)
relgate.analysis.run      AnalysisRun: measure each interval, return the verdict and action

docs/analysis.md is the reference. The rollout orchestration (canary steps,
blue-green) is the caller; nothing in a deployment runs an analysis yet.
"""
