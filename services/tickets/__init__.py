"""The tickets service: folders, projects, item types and workflows, tickets and tasks, conversation, followers."""
