"""The SDK's errors. Each message says what went wrong and what to do about it."""

from __future__ import annotations


class CairnError(Exception):
    """Base class of every error the SDK raises on purpose."""


class CommError(CairnError):
    """The server could not be reached, or answered with an error."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class AuthenticationError(CommError):
    """No API key, or the server refused it."""


class NotFoundError(CommError):
    """The thing asked for does not exist, or the caller may not see it."""


class PermissionDeniedError(CommError):
    """The caller's role does not allow the operation."""
