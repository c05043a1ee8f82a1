"""Time entries: logging, correcting with history, approving, and the workspace's time policy."""
