"""Cairn SDK: artifacts, model registry and run tracking with the W&B SDK's shape.

``import cairn as wandb`` is meant to be the only change a W&B script needs::

    run = cairn.init(project="mnist", job_type="train")
    artifact = cairn.Artifact("mnist", type="dataset")
    artifact.add_dir("data/")
    run.log_artifact(artifact, aliases=["best"])
    run.finish()

``cairn.run`` is the active run (None before ``cairn.init``), ``cairn.config`` its config,
``cairn.summary`` its summary; ``cairn.log`` logs to it.
"""

from typing import Any

from cairn.api.public import Api
from cairn.artifacts.artifact import Artifact
from cairn.artifacts.manifest import ArtifactManifestEntry
from cairn.errors import (
    ArtifactFinalizedError,
    AuthenticationError,
    CairnError,
    CommError,
    NotFoundError,
)
from cairn.registry.linking import module_link_model as link_model
from cairn.sdk.login import login
from cairn.sdk.run import Run, finish, init, log, log_artifact, use_artifact
from cairn.sdk.state import active_run

__version__ = "0.1.0"

__all__ = [
    "Api",
    "Artifact",
    "ArtifactFinalizedError",
    "ArtifactManifestEntry",
    "AuthenticationError",
    "CairnError",
    "CommError",
    "NotFoundError",
    "Run",
    "__version__",
    "finish",
    "init",
    "link_model",
    "log",
    "log_artifact",
    "login",
    "use_artifact",
]


def __getattr__(name: str) -> Any:
    """``cairn.run``, ``cairn.config`` and ``cairn.summary`` follow the active run (PEP 562)."""
    if name == "run":
        return active_run()
    if name == "config":
        run = active_run()
        if run is None:
            raise AttributeError("cairn.config exists once cairn.init() has started a run")
        return run.config
    if name == "summary":
        run = active_run()
        if run is None:
            raise AttributeError("cairn.summary exists once cairn.init() has started a run")
        return run.summary
    raise AttributeError(f"module 'cairn' has no attribute {name!r}")
