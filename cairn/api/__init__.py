"""The public API: read artifacts outside of a run (``cairn.Api()``)."""
