"""Dashboards at scale: every query of the fleet and profitability dashboards over 6 hours of a 10,000-miner farm.

    python bench/dashboards.py                      # 10,000 miners, 4 sites, 6 h
    python bench/dashboards.py --miners 2000 --live-minutes 2

The target (issue 15): with the recording rules, every query of the fleet and
profitability dashboards over a 6-hour range returns from a real Prometheus in
under 1 s in total.

What runs, all on loopback, as separate processes: the simulator (N miners,
every firmware profile round-robin, split into `--sites` sites by rewriting its
file_sd), the CGMiner exporter in fleet mode (workers 2, concurrency 2000), the
replayed upstreams (`hashwatch upstreams`), the Ocean, market and profitability
exporters, and Prometheus (Debian's, 2.42) with the generated recording rules
(prometheus/rules/hashwatch-recording.yml; not the alerting rules) at the
production scrape and evaluation interval, 30 s.

Six hours cannot be waited for, so history is backfilled. After `--live-minutes`
of live scraping and rule evaluation, the benchmark reads, at that moment, the
current value of (a) every series a recording rule wrote, and (b) every series
of every other metric a *range* panel of the two dashboards reads (the
profitability exporter's site and fleet series, the market's price and
hashprice), provided the metric has at most 1,000 series (no range panel may
read per-miner series; one that did would be reported). Each series gets 6
hours of samples every 30 s before the live data began: the current value
with a slow ±2% random walk (so chunks compress like real data, not like
constants), counters (`_total`) run backwards at their live 5-minute rate. They
are written as OpenMetrics and turned into blocks by
`promtool tsdb create-blocks-from openmetrics`, moved into Prometheus' data
directory, and Prometheus is restarted. Raw per-miner series (what tables and
stats read at the instant "now") are the live ones.

Queries are asked as Grafana asks them (grafana/queries.py, as the panel tests
do): variables resolved by their own queries, range targets at the step
Grafana would pick for the panel's width over 6 h, stats, tables and bar gauges
as instant queries. Each query runs 3 times; the table shows the median and the
total per dashboard (sequential: Grafana runs them in parallel, so what a user
waits for is less). For comparison, the recorded names in each query are
replaced by the expressions they record and the same queries run over the
raw series; raw history is only the live minutes, so that column runs the raw
range queries over the live window at the same step and scales the time to 6
hours by the number of steps (an estimate, marked as one).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grafana.datasources import Prometheus, Series  # noqa: E402
from grafana.queries import DASHBOARDS, Datasources, View, load, multi_valued, resolve, run, substitute  # noqa: E402
from simulator.upstreams import client_settings  # noqa: E402

RULES = ROOT / "prometheus" / "rules" / "hashwatch-recording.yml"
INTERVAL = 30  # seconds: production scrape and evaluation interval (prometheus/prometheus.yml)
HOST = "127.0.0.1"
PORTS = {"sim": 24028, "cgminer": 29891, "ocean": 29892, "market": 29893, "profitability": 29894,
         "upstreams": 29880, "prometheus": 29090}
ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
MAX_SERIES_PER_METRIC = 1000
IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def start(args: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT,
                            env={**os.environ, **(env or {})}, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def wait_until(what: str, check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(2)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


def split_sites(file_sd: Path, sites: int) -> None:
    """The simulator's file_sd (one group per profile) split round-robin into `sites` sites."""
    groups = []
    for group in json.loads(file_sd.read_text()):
        for number in range(sites):
            targets = group["targets"][number::sites]
            if targets:
                groups.append({"targets": targets, "labels": {**group["labels"], "site": f"site-{number + 1}"}})
    file_sd.write_text(json.dumps(groups))


def configs(workdir: Path, file_sd: Path, sites: int) -> tuple[Path, Path]:
    replays = client_settings(f"http://{HOST}:{PORTS['upstreams']}")
    hashwatch = {
        "cgminer": {"allowed_targets": ["127.0.0.0/8"], "allowed_ports": [PORTS["sim"]], "timeout_seconds": 10,
                    "fleet": {"file_sd": [str(file_sd)], "concurrency": 2000, "workers": 2, "timeout_seconds": 25}},
        "ocean": {"addresses": [ADDRESS], "api_url": replays["ocean_api_url"]},
        "market": {"price_sources": replays["price_sources"], "network_sources": replays["network_sources"]},
        "profitability": {
            "prometheus_url": f"http://{HOST}:{PORTS['prometheus']}", "interval_seconds": INTERVAL, "currency": "USD",
            "tariff": {"rate": 0.06, "currency": "USD", "pue": 1.05},
            "sites": {f"site-{n + 1}": {"tariff": {"rate": 0.04 + 0.01 * n, "currency": "USD"}} for n in range(sites)},
        },
    }
    (workdir / "hashwatch.yml").write_text(yaml.safe_dump(hashwatch))
    static = [("cgminer", "hashwatch-cgminer"), ("ocean", "hashwatch-ocean"), ("market", "hashwatch-market"),
              ("profitability", "hashwatch-profitability")]
    prometheus = {
        "global": {"scrape_interval": f"{INTERVAL}s", "scrape_timeout": "25s", "evaluation_interval": f"{INTERVAL}s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [f"{HOST}:{PORTS[name]}"]}]}
                           for name, job in static],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(prometheus))
    return workdir / "hashwatch.yml", workdir / "prometheus.yml"


def start_prometheus(workdir: Path, config: Path) -> subprocess.Popen:
    process = start(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
                     f"--web.listen-address={HOST}:{PORTS['prometheus']}", "--log.level=warn",
                     "--storage.tsdb.retention.time=30d"], workdir / "prometheus.log")
    prom = Prometheus(f"http://{HOST}:{PORTS['prometheus']}")
    wait_until("prometheus ready", lambda: prom.instant("1", time.time()) is not None, 180)
    return process


def recorded_names() -> dict[str, str]:
    """record name -> expression, from the generated rules."""
    document = yaml.safe_load(RULES.read_text())
    return {r["record"]: r["expr"] for g in document["groups"] for r in g["rules"] if "record" in r}


def backfill_plan(prom: Prometheus, boards, records: dict[str, str]) -> tuple[dict[str, list[Series]], list[str]]:
    """metric -> its current series, for every recorded metric and every metric a range panel reads."""
    now = time.time()
    names = set(prom.label_values("__name__", None, now - 600, now))
    wanted = {n for n in records if n in names}
    for board in boards:
        for target in board.targets:
            if not target.instant:
                wanted |= {word for word in IDENTIFIER.findall(target.text) if word in names}
    plan, skipped = {}, []
    for name in sorted(wanted):
        series = prom.instant(f'{{__name__="{name}"}}', now)
        if len(series) > MAX_SERIES_PER_METRIC:
            skipped.append(f"{name} ({len(series)} series)")
            continue
        if name.endswith("_total"):
            def key(labels: dict) -> str:
                return json.dumps({k: v for k, v in labels.items() if k != "__name__"}, sort_keys=True)
            rates = {key(s.labels): s.last() or 0.0 for s in prom.instant(f'rate({{__name__="{name}"}}[5m])', now)}
            for s in series:
                s.labels["__rate__"] = str(rates.get(key(s.labels), 0.0))
        plan[name] = series
    return plan, skipped


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def write_openmetrics(plan: dict[str, list[Series]], path: Path, first: float, last: float) -> int:
    """6 h of samples per series, every INTERVAL seconds from `first` to `last`; returns the sample count."""
    rng = random.Random(15)
    samples = 0
    with path.open("w") as out:
        for name, series_list in plan.items():
            out.write(f"# TYPE {name} unknown\n")
            for series in series_list:
                current = series.last()
                if current is None:
                    continue
                per_second = float(series.labels.pop("__rate__", 0.0))
                labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(series.labels.items()) if k != "__name__")
                selector = f"{name}{{{labels}}}" if labels else name
                walk, t = 0.0, first
                while t <= last:
                    walk = max(-0.02, min(0.02, walk + rng.gauss(0, 0.002)))
                    if name.endswith("_total"):
                        value = max(0.0, current - per_second * (last - t))
                    else:
                        value = current * (1 + walk)
                    out.write(f"{selector} {value!r} {t:.0f}\n")
                    samples += 1
                    t += INTERVAL
        out.write("# EOF\n")
    return samples


def raw_expression(expr: str, records: dict[str, str], metrics: set[str]) -> str:
    """`expr` with every recorded name replaced by what it records (recursively); the recorded
    series' matchers (`{site=~"site-1"}`) move onto the raw selectors, whose series carry the same labels."""
    names = "|".join(re.escape(n) for n in sorted(records, key=len, reverse=True))
    raw_names = "|".join(re.escape(n) for n in sorted(metrics - set(records), key=len, reverse=True))

    def replace(match: re.Match) -> str:
        inner = raw_expression(records[match.group(1)], records, metrics)
        matchers = (match.group(2) or "{}")[1:-1].strip()
        if matchers:
            def add(selector: re.Match) -> str:
                existing = (selector.group(2) or "{}")[1:-1].strip()
                return f"{selector.group(1)}{{{', '.join(m for m in (existing, matchers) if m)}}}"
            inner = re.sub(rf"(?<![\w:])({raw_names})(?![\w:(])(\{{[^}}]*\}})?", add, inner)
        return f"({inner})"

    return re.sub(rf"(?<![\w:])({names})(?![\w:])(\{{[^}}]*\}})?", replace, expr)


def time_queries(boards, sources: Datasources, hours: float, records: dict[str, str], metrics: set[str],
                 live_seconds: float) -> list[dict]:
    rows = []
    for board in boards:
        view = View(time.time(), hours * 3600, INTERVAL)
        values = resolve(board, sources, view)
        multi = multi_valued(board)
        for target in board.targets:
            timings, answer = [], None
            for _ in range(3):
                answer = run(target, sources, values, View(time.time(), hours * 3600, INTERVAL), multi)
                timings.append(answer.seconds)
            row = {"dashboard": board.slug, "panel": target.panel, "ref": target.ref,
                   "mode": "instant" if target.instant else f"range/{view.step(target):.0f}s",
                   "series": len(answer.series), "points": sum(len(s.values) for s in answer.series),
                   "ms": statistics.median(timings) * 1000, "error": answer.error, "empty": answer.empty,
                   "raw_ms": None}
            query = substitute(target.text, values, view, target, multi)
            raw = raw_expression(query, records, metrics)
            if raw != query:
                raw_view = View(time.time(), live_seconds, INTERVAL)
                prom, step = sources.prometheus, view.step(target)
                raw_times = []
                for _ in range(3):
                    began = time.perf_counter()
                    if target.instant:
                        prom.instant(raw, raw_view.end)
                    else:
                        prom.range(raw, raw_view.start, raw_view.end, step)
                    raw_times.append(time.perf_counter() - began)
                scale = 1 if target.instant else (hours * 3600 / step) / max(1, live_seconds / step)
                row["raw_ms"] = statistics.median(raw_times) * 1000 * scale
            rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--miners", type=int, default=10000)
    parser.add_argument("--sites", type=int, default=4)
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--live-minutes", type=float, default=4.0)
    parser.add_argument("--dashboards", default="fleet,profitability")
    parser.add_argument("--keep", help="keep the work directory here (Prometheus data, logs)")
    args = parser.parse_args()
    wanted = args.dashboards.split(",")
    boards = [b for b in load(DASHBOARDS) if b.slug in wanted]
    if not boards:
        sys.exit(f"no dashboards {wanted} in {DASHBOARDS}")
    workdir = Path(args.keep or tempfile.mkdtemp(prefix="hashwatch-dashbench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    file_sd = workdir / "miners.json"
    processes: list[subprocess.Popen] = []
    prom_process = None
    python = sys.executable
    try:
        sim = start([python, "-m", "simulator", "--miners", str(args.miners), "--first-address", "127.20.0.1",
                     "--port", str(PORTS["sim"]), "--file-sd", str(file_sd)], workdir / "simulator.log")
        processes.append(sim)
        wait_until("simulator", lambda: "listening" in (workdir / "simulator.log").read_text(), 300)
        split_sites(file_sd, args.sites)
        config, prom_config = configs(workdir, file_sd, args.sites)
        hw = [python, "-m", "hashwatch.app"]
        processes.append(start(hw + ["upstreams", "--listen", f"{HOST}:{PORTS['upstreams']}"], workdir / "upstreams.log"))
        for name in ("cgminer", "ocean", "market"):
            processes.append(start(hw + [name, "--config.file", str(config), "--web.listen-address",
                                         f"{HOST}:{PORTS[name]}", "--log.level", "error"], workdir / f"{name}.log"))
        prom_started = time.time()
        prom_process = start_prometheus(workdir, prom_config)
        processes.append(start(hw + ["profitability", "--config.file", str(config), "--web.listen-address",
                                     f"{HOST}:{PORTS['profitability']}", "--log.level", "error"],
                               workdir / "profitability.log"))
        prom = Prometheus(f"http://{HOST}:{PORTS['prometheus']}", timeout=120)
        began = time.time()
        wait_until(f"{args.miners} miners up", lambda: (prom.instant("fleet:miner_up:sum", time.time())[0].last()
                                                        == args.miners), 600)
        wait_until("profitability", lambda: prom.instant("profitability_fleet_profit_per_day", time.time()), 600)
        print(f"all {args.miners} miners up and profitability computed after {time.time() - began:.0f} s", flush=True)
        time.sleep(max(0.0, began + args.live_minutes * 60 - time.time()))
        live_start = prom_started
        records = recorded_names()
        plan, skipped = backfill_plan(prom, boards, records)
        openmetrics = workdir / "backfill.om"
        last = live_start - INTERVAL
        samples = write_openmetrics(plan, openmetrics, last - args.hours * 3600, last)
        blocks = workdir / "blocks"
        t0 = time.perf_counter()
        subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(openmetrics), str(blocks)],
                       check=True, stdout=subprocess.DEVNULL)
        print(f"backfilled {sum(len(v) for v in plan.values())} series of {len(plan)} metrics, {samples:,} samples "
              f"({args.hours:g} h every {INTERVAL} s) in {time.perf_counter() - t0:.0f} s; "
              f"not backfilled (over {MAX_SERIES_PER_METRIC} series): {', '.join(skipped) or 'none'}", flush=True)
        stop(prom_process)
        for block in blocks.iterdir():
            shutil.move(str(block), workdir / "data" / block.name)
        prom_process = start_prometheus(workdir, prom_config)
        wait_until("a scrape after the restart", lambda: prom.instant("fleet:miner_up:sum", time.time()), 120)
        history = prom.instant(f"count_over_time(fleet:miner_hashrate_hashes_per_second:sum[{args.hours:g}h])",
                               time.time())[0].last()
        print(f"fleet:miner_hashrate_hashes_per_second:sum has {history:.0f} samples over the last {args.hours:g} h",
              flush=True)
        sources = Datasources(Prometheus(prom.url, timeout=120))
        metrics = set(prom.label_values("__name__", None, time.time() - 600, time.time()))
        live = max(60.0, time.time() - live_start - 60)
        time_queries(boards, sources, args.hours, records, metrics, live)  # warm-up: first reads of the new blocks
        rows = time_queries(boards, sources, args.hours, records, metrics, live)
        report(rows, args)
    finally:
        if prom_process is not None:
            stop(prom_process)
        for process in reversed(processes):
            stop(process)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def report(rows: list[dict], args) -> None:
    print(f"\n{'dashboard':<14} {'panel':<44} {'ref':<3} {'mode':<11} {'series':>6} {'points':>7} {'ms':>7} {'raw ms':>9}")
    for row in rows:
        note = " ERROR " + row["error"] if row["error"] else (" NO DATA" if row["empty"] else "")
        raw = f"{row['raw_ms']:>9.1f}" if row["raw_ms"] is not None else f"{'':>9}"
        print(f"{row['dashboard']:<14} {row['panel'][:44]:<44} {row['ref']:<3} {row['mode']:<11} {row['series']:>6} "
              f"{row['points']:>7} {row['ms']:>7.1f} {raw}{note}")
    print()
    for slug in dict.fromkeys(r["dashboard"] for r in rows):
        mine = [r for r in rows if r["dashboard"] == slug]
        raw = sum(r["raw_ms"] if r["raw_ms"] is not None else r["ms"] for r in mine)
        print(f"{slug:<14} {len(mine):>3} queries  total {sum(r['ms'] for r in mine):8.1f} ms   "
              f"raw expressions (estimate) {raw:9.1f} ms")
    total = sum(r["ms"] for r in rows)
    verdict = "met" if total < 1000 and not any(r["error"] for r in rows) else "NOT met"
    print(f"{'all':<14} {len(rows):>3} queries  total {total:8.1f} ms   target < 1000 ms over {args.hours:g} h: "
          f"{verdict}   ({os.cpu_count()} cores, {args.miners} miners)")
    empty = [f"{r['dashboard']} / {r['panel']} [{r['ref']}]" for r in rows if r["empty"] and not r["error"]]
    if empty:  # the benchmark's fleet has no faults: panels of dead boards or miners down are rightly empty
        print(f"no data (a healthy fleet without faults): {'; '.join(empty)}")


if __name__ == "__main__":
    main()
