"""Automations: event filters and webhook deliveries with a persisted retry schedule."""
