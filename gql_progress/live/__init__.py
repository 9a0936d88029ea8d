"""Live updates: what GraphQL subscriptions are fed with.

A write that changes progress announces it in its own transaction (notify.py): on PostgreSQL
with ``pg_notify`` folded into the statement that writes, delivered by the database at commit
and never for a rolled-back write; on SQLite by handing the notices to this process once the
transaction committed. Every server process holds one LISTEN connection (listener.py) and
fans what arrives out to its local subscribers through bounded queues (broker.py); hub.py ties
the two to the app's lifespan. Notices carry ids only: subscribers read what they yield.
"""
