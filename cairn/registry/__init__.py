"""The Model Registry and registries: linking from runs, collections, linked versions.

``run.link_artifact``/``run.link_model`` link; ``cairn.Api().registry("model")``,
``api.artifact_collection(...)`` and ``api.artifact("model-registry/<name>:alias")`` read.
"""
