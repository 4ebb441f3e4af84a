"""Pure builders: service results in, ECharts options and table rows out (no UI, no I/O)."""
