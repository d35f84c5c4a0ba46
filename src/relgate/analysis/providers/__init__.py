"""Metric providers behind one port (ports.MetricProvider), chosen by type (registry)."""
