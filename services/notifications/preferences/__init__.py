"""Per-person notification preferences: a channel per notice kind, and the forwarding delay."""
