"""Benchmarks and synthetic data for 一卡通 (see ``bench.synth``)."""
