"""The integrations service: zapier-compatible gateway and signed outgoing webhooks."""
