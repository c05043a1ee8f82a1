"""The identity service.

Workspaces, people, teams, roles, project grants, access requests, login and tokens.
"""
