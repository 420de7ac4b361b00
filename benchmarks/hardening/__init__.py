"""Hardening runs against a real server: load, soak, overload and fuzzing (each with a `--smoke` mode)."""
