"""Outgoing webhooks: endpoints, signing, the delivery schedule, the delivery log."""
