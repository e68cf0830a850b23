"""Writes to the audit trail, by topic: record.py (store an event, queue it), chain.py (the hash chain), sinks.py
(ship each event once per sink, the sweep), verify.py (recompute the chains), export.py (write them out).

Import from the topic module. Nothing is re-exported here: audit.tasks imports sinks.py and record.py imports
audit.tasks, so a package that imported record.py would make the tasks module import itself.
"""
