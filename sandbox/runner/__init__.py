"""Runs SageMaker pipeline definitions locally (see executor.py)."""
