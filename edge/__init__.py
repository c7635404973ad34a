"""The file edge: the one parse step (text to typed, checked tables naming file, line and field) and
the one write step (typed tables to the published text), and fsync-before-rename."""
