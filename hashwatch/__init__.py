"""hashwatch: Prometheus-native observability for Bitcoin mining."""

__version__ = "0.1.0"
