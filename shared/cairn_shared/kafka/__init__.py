"""Kafka access: the idempotent publisher, the consumer runner, and topic administration."""
