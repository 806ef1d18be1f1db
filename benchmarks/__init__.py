"""Benchmarks of the sandbox's runner and the project's commands: `python -m benchmarks`."""
