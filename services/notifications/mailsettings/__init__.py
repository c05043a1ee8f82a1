"""A workspace's mail choices (what is mailed, branding, its own SMTP server) and templates."""
