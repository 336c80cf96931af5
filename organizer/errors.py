"""Exceptions that `cli` turns into a one-line message and exit code 1."""


class OrganizerError(Exception):
    """A user-facing failure: bad configuration, a missing root, an unusable catalog."""


class ConfigError(OrganizerError):
    """A configuration value or file is wrong; the message names the key and the file."""


class CatalogError(OrganizerError):
    """The catalog cannot be opened or does not know what was asked."""


class OutputError(OrganizerError):
    """The output folder cannot be used safely."""
