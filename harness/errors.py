"""Errors a user can fix. The CLI prints them as one line (exit status 2), no traceback."""

from __future__ import annotations


class RouterlabError(Exception):
    """Base for user-facing errors: the message names the file, the field and the fix."""


class DataError(RouterlabError):
    """A data file is missing, corrupt or malformed."""


class ConfigError(RouterlabError):
    """A study, endpoint or price file is wrong."""
