"""The simulated fleet and its faults, as the exporter sees them."""
