"""Live updates: what GraphQL subscriptions are fed with.

A write that changes progress announces it once its transaction committed, never for a
rolled-back write (domain/completion/notices.py): on PostgreSQL the process's notifier sends
its notices with NOTIFY, many to a payload, on a connection of its own (db/notifier.py); on
SQLite they go to this process's subscribers. Delivery is after the commit and at most once: a
process that dies between a commit and its batch loses those notices (a client re-reads when
it subscribes again). Every server process holds one LISTEN connection (db/listener.py) and
fans what arrives out to its local subscribers through bounded queues (broker.py); hub.py ties
the two to the app's lifespan. Notices carry ids only: subscribers read what they yield.
"""
