"""Local copies of other services' items, projects, client organisations and people."""
