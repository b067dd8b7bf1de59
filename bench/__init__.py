"""Benchmarks of groupchat itself (not of any model): run with ``python -m bench.<name>``.

``bench.orchestration`` measures what the manager, the bus and the participant protocol cost per
message, with scripted agents whose "model" costs nothing.
"""
