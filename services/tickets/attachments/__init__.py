"""Files attached to items and comments, kept through a small storage interface."""
