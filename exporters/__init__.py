"""Prometheus exporters: one sub-package per data source (cgminer, ocean, market)."""
