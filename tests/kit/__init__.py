"""The shared kit: config, HTTP client and server limits, the service shell, the ledger, consensus, plausible ranges."""
