"""Mail out: a durable queue of one mail per (reason, recipient), drained by the sender."""
