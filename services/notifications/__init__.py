"""The notifications service: mail out and in, the in-app feed and live push."""
