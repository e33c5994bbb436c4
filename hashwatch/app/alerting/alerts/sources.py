"""Data sources: Ocean's API, the market and network sources, and the profitability ledger."""

from __future__ import annotations

from ..config import AlertingConfig
from .. import links
from ..model import Alert, Group
from ..promql import quoted, series


def _seconds(value: float) -> str:
    return f"{value:g}"


def group(config: AlertingConfig) -> Group:
    o = config.ocean_selector
    k = config.market_selector
    p = config.profitability_selector
    fetched = series("market_btc_price_fetched_timestamp_seconds", k)
    network = series("hashwatch_market_source_last_success_timestamp_seconds", k, "endpoint!=" + quoted("price"))

    def ledger(name: str) -> str:
        return series(f"hashwatch_profitability_ledger_{name}", p)

    ledger_expr = (
        "label_replace(\n"
        f"  sum without (reason) (increase({ledger('write_failures_total')}[15m])) > 0\n"
        f"  unless increase({ledger('batches_written_total')}[15m]) > 0,\n"
        '  "problem", "write_failures", "", "")\n'
        "or\n"
        "label_replace(\n"
        f"  sum without (reason) (increase({ledger('points_refused_total')}[15m])) > 0,\n"
        '  "problem", "points_refused", "", "")'
    )
    return Group(
        "hashwatch.sources",
        title="Data sources",
        dashboard=links.SELF,
        rules=(
            Alert(
                "OceanDataStale",
                f"time() - {series('hashwatch_ocean_api_last_success_timestamp_seconds', o)}"
                f" > {_seconds(config.ocean_stale_seconds)}",
                severity="warning",
                summary="Ocean's API has given no usable data for a while.",
                description=(
                    "Ocean's {{ $labels.endpoint }} endpoint{{ with $labels.address }} for {{ . }}{{ end }} "
                    "last answered with usable data {{ $value | humanizeDuration }} ago."
                ),
                runbook=(
                    "The Ocean exporter keeps exporting the last good values when Ocean's API fails, so every "
                    "`ocean_*` series of this endpoint (hashrate, earnings, workers) is frozen at that age.\n\n"
                    "- `hashwatch_ocean_api_requests_total` by `result` says why: `rate_limited` (poll less "
                    "often: `ocean.interval_seconds`), `server_error`/`timeout` (Ocean is down: "
                    "check ocean.xyz), `api_error` (a wrong payout address in `ocean.addresses`), "
                    "`connection_error` (the exporter's internet/DNS), `unknown_shape`/`implausible` (Ocean "
                    "changed its API: the exporter's log names the field; upgrade hashwatch).\n"
                    "- The miners are not affected: this is only the pool's view of them."
                ),
                for_=config.source_stale_for,
            ),
            Alert(
                "MarketPriceStale",
                f"time() - {fetched} > {_seconds(config.price_stale_seconds)}\nor\nabsent({fetched})",
                severity="warning",
                summary="The BTC price is old or missing.",
                description=(
                    "{{ if $labels.currency }}The {{ $labels.currency }} BTC price was fetched "
                    "{{ $value | humanizeDuration }} ago.{{ else }}No BTC price is exported at all.{{ end }}"
                ),
                runbook=(
                    "Every price source of the market exporter has failed for a while (the last good price "
                    "stays exported, with its fetch time), or no price is exported at all. Revenue, profit, "
                    "margin and break-even figures in every currency then use an old price, and the "
                    "profitability exporter drops them once they pass its `max_input_age_seconds`.\n\n"
                    "- `hashwatch_market_source_up{endpoint=\"price\"}` and "
                    "`hashwatch_market_source_requests_total` by `source` and `result`: `rate_limited` "
                    "(CoinGecko's free tier: poll less often or add a source), `connection_error` (the "
                    "exporter's internet), `implausible` (a source sent nonsense; it is ignored).\n"
                    "- No price at all: the market exporter is not scraped (HashwatchExporterDown), or "
                    "none of its configured sources prices the requested currency."
                ),
                for_=config.source_stale_for,
            ),
            Alert(
                "MarketNetworkDataStale",
                f"time() - max without (source, endpoint) ({network}) > {_seconds(config.network_stale_seconds)}",
                severity="warning",
                summary="No network data source has answered for a while.",
                description=(
                    "The freshest network data (difficulty, fees, retarget) of {{ $labels.instance }} is "
                    "{{ $value | humanizeDuration }} old."
                ),
                runbook=(
                    "None of the market exporter's network endpoints (mempool.space, blockchain.info, your "
                    "own bitcoind) has answered with usable data for longer than the threshold. Difficulty, "
                    "fees, the retarget estimate and the hashprice are frozen, and the profitability exporter "
                    "counts the network inputs as missing once they pass its `max_input_age_seconds` "
                    "(`profitability_missing_input{input=\"network\"}`).\n\n"
                    "- `hashwatch_market_source_up` and `hashwatch_market_source_requests_total` by `source`, "
                    "`endpoint` and `result`.\n"
                    "- bitcoind: `unauthorized` (the cookie file or RPC credentials), `rpc_error` (the node is "
                    "still syncing or warming up), `connection_error` (the node is down or `rpcbind`).\n"
                    "- Public sources: `rate_limited` or `connection_error`; add a second source to "
                    "`market.network.sources` so one outage does not stop the data."
                ),
                for_=config.source_stale_for,
            ),
            Alert(
                "MarketPriceSourcesDisagree",
                f"{series('market_btc_price_spread_ratio', k)}\n"
                f"and {series('market_btc_price_sources_disagree', k)} == 1",
                severity="warning",
                summary="The BTC price sources disagree.",
                description=(
                    "The {{ $labels.currency }} BTC prices of the fresh sources have spread "
                    "{{ $value | humanizePercentage }} apart for 30 minutes."
                ),
                runbook=(
                    "The fresh price sources' spread ((max - min) / median) has stayed above the market "
                    "exporter's `disagreement_ratio`. The exported price is the first fresh source in the "
                    "configured order, which may be the wrong one.\n\n"
                    "- Compare `market_source_btc_price` by `source` with an exchange: the outlier is usually "
                    "one source with a stale cache or a wrong currency mapping.\n"
                    "- A fast-moving market can spread sources briefly; 30 minutes is not brief.\n"
                    "- Move the wrong source down or out of `market.price.sources` if it persists."
                ),
                for_=config.market_price_sources_disagree_for,
                keep_firing_for=config.keep_firing_for,
            ),
            Alert(
                "LedgerFailing",
                ledger_expr,
                severity="warning",
                summary="The profitability ledger is not recording.",
                description=(
                    "The profitability ledger of {{ $labels.instance }}: {{ $labels.problem }}, "
                    "{{ $value | printf \"%.0f\" }} in the last 15 minutes."
                ),
                runbook=(
                    "The profitability exporter's ledger (the economics history sent to InfluxDB) is failing: "
                    "`write_failures` means every write for 15 minutes failed and none succeeded (points pile "
                    "up in the spool: `hashwatch_profitability_ledger_pending_points`); `points_refused` "
                    "means points were not even queued because the spool is full or its disk fails (that "
                    "history is lost).\n\n"
                    "- `hashwatch_profitability_ledger_write_failures_total` by `reason`: `connect`/`timeout` "
                    "(InfluxDB down or unreachable), `auth` (the token), `not_found` (the bucket or "
                    "database), `rejected` (malformed points, kept under the spool's `rejected/`), `spool` "
                    "(the spool directory).\n"
                    "- `hashwatch_profitability_ledger_points_refused_total` by `reason`: `spool_full` "
                    "(`pending_bytes` reached `spool_max_bytes`: fix the database first, then raise the "
                    "bound if the backlog is needed), `spool_error` (disk full or permissions).\n"
                    "- Once writes succeed again the spool drains by itself, oldest first."
                ),
                for_=config.ledger_failing_for,
            ),
        ),
    )
