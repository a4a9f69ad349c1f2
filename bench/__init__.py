"""Benchmarks that print figures (``make bench``); not tests."""
