"""The suite's common library: bus, outbox, inbox, clock, HTTP app factory, auth, errors, config.

Nothing in here imports a service; every service imports from here.
"""
