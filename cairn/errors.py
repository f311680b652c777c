"""The SDK's errors. Each message says what went wrong and what to do about it."""

from __future__ import annotations

from typing import Any


class CairnError(Exception):
    """Base class of every error the SDK raises on purpose."""


class CommError(CairnError):
    """The server could not be reached, or answered with an error.

    ``status`` is the HTTP status (None when unreachable), ``code`` the server's stable error
    code (``not_found``, ``missing_blobs``...) and ``details`` its machine-readable details.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        details: dict[str, Any] | None = None,
        request_id: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.details = details or {}
        self.request_id = request_id


class AuthenticationError(CommError):
    """No API key, or the server refused it."""


class NotFoundError(CommError):
    """The thing asked for does not exist, or the caller may not see it."""


class PermissionDeniedError(CommError):
    """The caller's role does not allow the operation."""


class ArtifactFinalizedError(CairnError):
    """A logged artifact cannot change: call ``artifact.new_draft()`` to start a new version."""


class ArtifactNotLoggedError(CairnError):
    """The operation needs a logged artifact: log it with ``run.log_artifact`` first."""


class ArtifactRejectedError(CairnError):
    """The server refused to commit a logged artifact; the message carries its reason."""


class ArtifactVerificationError(CairnError, ValueError):
    """Downloaded or checked-out files differ from the artifact's manifest.

    Also a ``ValueError``, the exception W&B's ``Artifact.verify`` raises.
    """


class TransferError(CairnError):
    """Moving bytes to or from object storage failed after retries."""


class WaitTimeoutError(CairnError, TimeoutError):
    """Waiting for the server (an artifact commit) took longer than the timeout."""


class DependencyError(CairnError, ImportError):
    """An optional dependency is missing; the message says which extra to install."""
