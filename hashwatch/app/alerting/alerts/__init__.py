"""One module per alert group; each has `group(config) -> Group`. Order: meta, miners, pools, fleet, sources, economics, events."""
