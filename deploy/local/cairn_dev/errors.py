"""The one exception type users see: a message that says what went wrong and what to do."""

import click


class CairnDevError(click.ClickException):
    """A failure reported to the user as `Error: <message>` with exit status 1."""
