"""Helpers for tests against real PostgreSQL, Redis and RabbitMQ (never mocks of them)."""
