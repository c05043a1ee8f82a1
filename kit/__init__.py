"""The technical runtime every Deskline service stands on; it knows no domain.

Bus, outbox/inbox, database, settings, logging, auth, HTTP errors, the
launcher and test helpers live here so that every service inherits the same
reliability without writing it again.
"""
