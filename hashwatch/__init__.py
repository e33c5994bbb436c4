"""hashwatch: Prometheus-native observability for Bitcoin mining.

This package is the shared kit the services import, among others: config
loading (`config`), background polling (`polling`, `http`, `shape`,
`numbers`), the HTTP side (`web`, `webguard`), the service shell every
service runs in (`service`, with `polled_exporter` for services that poll
remote APIs), process tuning (`process`), Bitcoin's consensus arithmetic
(`consensus`) and the long-term ledger fed by services (`ledger`). The
`hashwatch` command on top of the services is `hashwatch.app`.
Nothing here imports a service (`exporters`, `profitability`, `simulator`) or
the app: dependencies point one way, app -> services -> kit.
"""

__version__ = "0.1.0"
