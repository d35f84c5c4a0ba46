"""The pages of the web UI, one module per page (parse, call a service, render)."""
