"""The identity service: workspaces, people, teams, roles, project grants, access requests, login and tokens."""
