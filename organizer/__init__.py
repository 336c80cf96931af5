"""organizer: an always-on photo organizer for a home server or NAS."""

__version__ = "0.1.0"
