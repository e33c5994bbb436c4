"""The Ocean.xyz exporter: parsers, poller, collectors, real and hand-built replies."""
