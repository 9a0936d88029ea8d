"""Webhooks: the event log pushed to admins' endpoints, signed, retried, delivered once.

``endpoints`` manages registrations, ``fanout`` turns new events into delivery records,
``delivery`` claims due records and posts them, ``signing`` and ``payload`` say what is sent,
``addresses`` says where it may go and ``connections`` only connects there, and ``worker`` runs
the loop (in the server's lifespan, or alone: ``gql-progress deliver``).
"""
