"""Benchmarks against the running stack; each prints one JSON object."""
