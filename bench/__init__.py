"""Benchmarks behind ``make bench``: sssctl next to a naive script, same emulator, same data.

Never run as tests: pytest collects ``tests/`` only, and nothing here is named ``test_*``.
``bench/run.py`` starts the emulator as its own process and runs every measured section in
a fresh worker process (``python -m bench.worker``), so one run's memory, imports and
connection pools never colour the next one's figures.
"""
