"""Measurement: phase timing and throughput."""
