"""Load and scale benchmarks, each run as `python -m bench.<name>` (see bench/README.md).

Each one makes its own throwaway PostgreSQL database (and whatever else it needs: a
private Redis, an SMTP sink), prints its figures next to a baseline measured in the same
run, and saves them as JSON under `bench/results/` (git-ignored).
"""
