"""dayclear's command line (cli), its settings (config) and its logging (logs)."""
