"""Manifest: artifact sequences, versions, manifests, artifact aliases and lineage."""
