"""The daemon: watch the photo folders, index, recluster and publish on schedule, under systemd."""
