"""The CGMiner exporter: wire, client, firmware parsers, scrape, exposition, fleet mode, /probe."""
