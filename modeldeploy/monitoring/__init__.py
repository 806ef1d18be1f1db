"""Data-quality monitoring of a live endpoint: its captured traffic against the model's
baseline (see monitor.py)."""
