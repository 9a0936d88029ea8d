"""The completion engine: what a learner has done, and what follows from it.

One folder for the product's core rule, so that a change to a completion rule touches one place:

- ``summary.py``      which lessons count and what a course summary says (in Python and, side by
                      side, in SQL for the compiled reads; tests/test_summary.py proves they agree)
- ``facts.py``        a course's counted lessons and thresholds, read once per write
- ``sequence.py``     the sequential-progress gate (a lesson opens once the ones before it are done)
- ``statements.py``   the progress upsert statements, state transitions in SQL
- ``notices.py``      the live notices each progress write announces once it committed
- ``enrollment.py``   enrollment completion: locks, recompute, events, certificates
- ``upsert.py``       one record's write (the heartbeat and explicit completion)
- ``bulk.py``         bulk completion of many lessons
- ``admin.py``        an admin's grant and reset for a learner

Imports flow one way: the API and live updates read from here; nothing here imports them.
"""
