"""The in-app feed: notices per person from events, read state, live push, mail forwarding."""
