"""Cairn SDK: artifacts, model registry and run tracking with the W&B SDK's shape.

``import cairn as wandb`` is meant to be the only change a W&B script needs.
"""

from cairn.errors import AuthenticationError, CairnError, CommError, NotFoundError

__version__ = "0.1.0"

__all__ = ["AuthenticationError", "CairnError", "CommError", "NotFoundError", "__version__"]
