"""The model catalog: facts read from the installed packages (sources.py, plus the labelled overrides.json), their
sync (sync.py), the gateway's cached reads (selectors.py), the one pricing rule (pricing.py) and the writes
(services.py)."""
