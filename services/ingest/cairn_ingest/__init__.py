"""Ingest: the front door for writes. Runs and their history, artifact submissions, link
requests, and the identity routes (users, teams, keys, projects)."""
