"""The tickets service.

Folders, projects, item types and workflows, tickets and tasks, conversation, followers.
"""
