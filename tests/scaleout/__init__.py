"""Beyond one machine (issue 16): sharded scraping into a central VictoriaMetrics, Alertmanager in HA."""
