"""Pure clustering: plain arrays in, groups out. Never imports the catalog, the CLI or the daemon."""
