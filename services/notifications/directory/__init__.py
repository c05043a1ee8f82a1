"""The directory: local copies of identity's workspaces and people and tickets' projects and
items, so mail (and the in-app feed) can resolve recipients without calling another service."""
