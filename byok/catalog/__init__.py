"""The model catalog: the bundled data file (models.json), its sync (sync.py), the gateway's cached reads
(selectors.py) and the lifecycle (services.py). The table is byok.models.Model."""
