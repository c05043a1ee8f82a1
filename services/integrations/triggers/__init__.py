"""Triggers: the events tools hear about, kept for polling and fanned out to webhooks."""
