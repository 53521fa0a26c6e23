"""Benchmarks of the service against a bare Flask + SQLAlchemy baseline (``make bench``).

Scripts run on purpose, never timed tests: ``python -m bench.run --quick`` or ``--full``.
"""
