"""The `hashwatch` command and the stack end to end through a real Prometheus."""
