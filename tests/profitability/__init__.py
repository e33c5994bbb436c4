"""The profitability exporter: economics, tariffs, catalog, snapshot, integration with Prometheus."""
