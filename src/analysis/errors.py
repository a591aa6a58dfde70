"""Errors a user can fix. The CLI prints them without a traceback and exits with status 2."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input or request, explained in plain English."""

    exit_code = 2
