"""relgate.yaml: loading with line numbers, and validation that names file, line and field."""
