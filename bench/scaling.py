"""Sizing numbers for docs/scaling.md: series, samples, bytes on disk and memory per miner.

    python bench/scaling.py                         # 1,000 miners, scraped every 2 s, about 12 minutes
    python bench/scaling.py --miners 500 --interval 1

What runs, as separate processes on loopback: the simulator (every firmware
profile round-robin, split into two sites), the CGMiner exporter in fleet mode
(the same series as /probe, plus a `miner` label), the replayed upstreams with
the Ocean, market and profitability exporters, Debian's Prometheus 2.42 with
the generated recording and alerting rules (prometheus/rules/*.yml), and
Debian's VictoriaMetrics, to which Prometheus remote_writes everything it
ingests (the scale-out topology's central store, docs/scaling.md).

Time is compressed: production scrapes and evaluates every 30 s and cuts a
2-hour block of 240 samples per series (two chunks of 120). Here the interval
is `--interval` seconds and the block range 120 intervals
(`--storage.tsdb.min-block-duration`), so a block holds one full 120-sample
chunk per series, as production's do, and is written after about 3 block
ranges. Per-scrape numbers (series, bytes per sample, CPU per scrape) do not
depend on the interval; per-second numbers are reported both as measured and
at 30 s (measured × interval / 30).

Measured:
- series per miner by profile and on average, from the exporter's exposition
  and from Prometheus (`count by (profile)` over the miners' series), and the
  head series (`prometheus_tsdb_head_series`): raw per miner, recorded per
  miner (rules keeping a `miner` label), profitability's per miner, recorded
  fixed (fleet, site, model), and the rest (exporters' own and scrape series);
- samples appended per second (`prometheus_tsdb_head_samples_appended_total`);
- Prometheus bytes per sample: the first full block's chunks and index over its
  `meta.json` sample count;
- VictoriaMetrics bytes per sample: `vm_data_size_bytes` over `vm_rows`
  (storage parts; the index separately) after `/internal/force_flush` and
  `/internal/force_merge`;
- memory: Prometheus RSS at its peak head, minus an empty Prometheus' RSS,
  per head series; VictoriaMetrics RSS;
- the exporter's CPU seconds per 1,000 miners per scrape (its process and
  workers, from /proc, over the scrapes Prometheus made).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from fleet_benchmark import calibration_seconds, cpu_seconds, rss_mb  # noqa: E402

from simulator.upstreams import client_settings  # noqa: E402

HOST = "127.0.0.1"
PORTS = {"sim": 24092, "cgminer": 29921, "prometheus": 29922, "empty": 29923, "vm": 29924, "ocean": 29925,
         "market": 29926, "profitability": 29927, "upstreams": 29928}
EXPORTERS = ("cgminer", "ocean", "market", "profitability")
ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"  # the replayed Ocean account (bench/dashboards.py)
RULES = sorted(str(p) for p in (ROOT / "prometheus" / "rules").glob("*.yml"))
PRODUCTION_INTERVAL = 30.0
SAMPLES_PER_CHUNK = 120
# The miners' own series: recorded series keep `job` and `miner` too, and are counted apart.
RAW_MINER = '{job="hashwatch-cgminer", miner!="", __name__!~".+:.+"}'


def start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_until(what: str, check, timeout: float, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except (requests.RequestException, OSError, ValueError, KeyError, IndexError):
            pass  # not up yet
        time.sleep(every)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


def query(expr: str) -> list[dict]:
    response = requests.get(f"http://{HOST}:{PORTS['prometheus']}/api/v1/query", params={"query": expr}, timeout=60)
    response.raise_for_status()
    return response.json()["data"]["result"]


def scalar(expr: str) -> float:
    return float(result[0]["value"][1]) if (result := query(expr)) else 0.0


def own_metrics(url: str) -> dict[str, float]:
    """name{labels} -> value from a server's own /metrics (Prometheus, VictoriaMetrics)."""
    found = {}
    for line in requests.get(url, timeout=30).text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            try:
                found[key] = float(value)
            except ValueError:
                continue
    return found


def summed(metrics: dict[str, float], name: str) -> float:
    """A metric summed over its labels (`prometheus_tsdb_head_samples_appended_total{type="float"}`, ...)."""
    return sum(v for k, v in metrics.items() if k == name or k.startswith(name + "{"))


def hashwatch_config(file_sd: Path, interval: float, workers: int) -> dict:
    """Fleet mode over the simulator; Ocean and market from the replayed upstreams; profitability by site."""
    replays = client_settings(f"http://{HOST}:{PORTS['upstreams']}")
    return {
        "cgminer": {"allowed_targets": ["127.0.0.0/8"], "allowed_ports": [PORTS["sim"]], "timeout_seconds": 10,
                    "fleet": {"file_sd": [str(file_sd)], "concurrency": 2000, "workers": workers,
                              "timeout_seconds": max(1.0, interval - 0.5)}},
        "ocean": {"addresses": [ADDRESS], "api_url": replays["ocean_api_url"]},
        "market": {"price_sources": replays["price_sources"], "network_sources": replays["network_sources"]},
        "profitability": {
            "prometheus_url": f"http://{HOST}:{PORTS['prometheus']}", "interval_seconds": max(interval, 10.0),
            "currency": "USD", "tariff": {"rate": 0.06, "currency": "USD", "pue": 1.05},
            "sites": {f"site-{n}": {"tariff": {"rate": 0.04 + 0.01 * n, "currency": "USD"}} for n in (1, 2)},
        },
    }


def split_sites(file_sd: Path, sites: int = 2) -> None:
    groups = []
    for group in json.loads(file_sd.read_text()):
        for number in range(sites):
            if targets := group["targets"][number::sites]:
                groups.append({"targets": targets, "labels": {**group["labels"], "site": f"site-{number + 1}"}})
    file_sd.write_text(json.dumps(groups))


def prometheus_config(workdir: Path, interval: float, scrape: bool) -> Path:
    config = {"global": {"scrape_interval": f"{interval:g}s", "scrape_timeout": f"{interval:g}s",
                         "evaluation_interval": f"{interval:g}s"}}
    if scrape:
        config["rule_files"] = RULES
        config["scrape_configs"] = [{"job_name": f"hashwatch-{name}",
                                     "static_configs": [{"targets": [f"{HOST}:{PORTS[name]}"]}]} for name in EXPORTERS]
        config["remote_write"] = [{"url": f"http://{HOST}:{PORTS['vm']}/api/v1/write"}]
    path = workdir / ("prometheus.yml" if scrape else "empty.yml")
    path.write_text(yaml.safe_dump(config))
    return path


def start_prometheus(workdir: Path, name: str, config: Path, port: int, block: float) -> subprocess.Popen:
    process = start(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={workdir / name}",
                     f"--web.listen-address={HOST}:{port}", "--log.level=warn",
                     f"--storage.tsdb.min-block-duration={block:g}s", f"--storage.tsdb.max-block-duration={block:g}s",
                     "--storage.tsdb.retention.time=1d"], workdir / f"{name}.log")
    wait_until(f"{name} ready", lambda: requests.get(f"http://{HOST}:{port}/-/ready", timeout=5).ok, 120)
    return process


def empty_prometheus_rss(workdir: Path, interval: float, block: float) -> float:
    """RSS (MB) of a Prometheus with nothing to scrape: the part that does not grow with series."""
    process = start_prometheus(workdir, "empty", prometheus_config(workdir, interval, scrape=False), PORTS["empty"], block)
    try:
        time.sleep(5)
        return rss_mb(process.pid)
    finally:
        stop(process)


def full_blocks(data: Path, block_ms: float) -> list[dict]:
    """meta.json of each block covering at least 90% of a block range, with its sizes on disk."""
    found = []
    for meta_path in sorted(data.glob("*/meta.json")):
        meta = json.loads(meta_path.read_text())
        if meta["maxTime"] - meta["minTime"] >= 0.9 * block_ms:
            block = meta_path.parent
            meta["chunk_bytes"] = sum(p.stat().st_size for p in (block / "chunks").iterdir())
            meta["index_bytes"] = (block / "index").stat().st_size
            found.append(meta)
    return found


def series_by_profile() -> tuple[dict[str, float], dict[str, int]]:
    """Series per miner by profile, as Prometheus stores them, and miners per profile."""
    series = {r["metric"].get("profile", "?"): float(r["value"][1])
              for r in query(f'count by (profile) ({RAW_MINER})')}
    miners = {r["metric"].get("profile", "?"): int(float(r["value"][1]))
              for r in query('count by (profile) (miner_up{job="hashwatch-cgminer"})')}
    return {p: series[p] / miners[p] for p in sorted(series) if miners.get(p)}, miners


def exposition_by_profile(url: str) -> dict[str, float]:
    """Series per miner by profile in one /metrics of the exporter (an extra scrape)."""
    per_miner, profile_of = Counter(), {}
    for line in requests.get(f"{url}/metrics", timeout=120).text.splitlines():
        if line.startswith("#") or 'miner="' not in line:
            continue
        miner = line.split('miner="', 1)[1].split('"', 1)[0]
        per_miner[miner] += 1
        if 'profile="' in line:
            profile_of[miner] = line.split('profile="', 1)[1].split('"', 1)[0]
    totals, counts = Counter(), Counter()
    for miner, count in per_miner.items():
        totals[profile_of.get(miner, "?")] += count
        counts[profile_of.get(miner, "?")] += 1
    return {p: totals[p] / counts[p] for p in sorted(totals)}


def victoria_metrics_sizes(url: str, workdir: Path) -> dict[str, float]:
    """Flush and merge everything VictoriaMetrics holds, then its rows and bytes (bounded wait)."""
    requests.get(f"{url}/internal/force_flush", timeout=60)
    requests.get(f"{url}/internal/force_merge", params={"partition_prefix": time.strftime("%Y_%m", time.gmtime())},
                 timeout=600)

    def settled() -> dict[str, float] | None:
        metrics = own_metrics(f"{url}/metrics")
        if any(v for k, v in metrics.items() if k.startswith("vm_active_merges")):
            return None
        return metrics

    metrics = wait_until("VictoriaMetrics merges", settled, 120, every=2)
    parts = ("storage/small", "storage/big")
    rows = sum(metrics.get(f'vm_rows{{type="{p}"}}', 0.0) for p in parts)
    data = sum(metrics.get(f'vm_data_size_bytes{{type="{p}"}}', 0.0) for p in parts)
    disk = sum(p.stat().st_size for p in (workdir / "vm").rglob("*") if p.is_file())
    return {"rows": rows, "data_bytes": data, "disk_bytes": disk}


def run(args) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="hashwatch-scaling-"))
    interval, block = args.interval, args.interval * SAMPLES_PER_CHUNK
    processes: list[subprocess.Popen] = []
    python = sys.executable
    try:
        calibration = calibration_seconds()
        baseline_rss = empty_prometheus_rss(workdir, interval, block)
        file_sd = workdir / "miners.json"
        processes.append(start([python, "-m", "simulator", "--miners", str(args.miners), "--first-address", "127.92.0.1",
                                "--port", str(PORTS["sim"]), "--file-sd", str(file_sd)], workdir / "simulator.log"))
        wait_until("simulator", lambda: "listening" in (workdir / "simulator.log").read_text(), 300)
        split_sites(file_sd)
        config = workdir / "hashwatch.yml"
        config.write_text(yaml.safe_dump(hashwatch_config(file_sd, interval, args.workers)))
        hw = [python, "-m", "hashwatch.app"]
        processes.append(start(hw + ["upstreams", "--listen", f"{HOST}:{PORTS['upstreams']}"], workdir / "upstreams.log"))
        exporter_url = f"http://{HOST}:{PORTS['cgminer']}"
        started = {name: start(hw + [name, "--config.file", str(config), "--web.listen-address",
                                     f"{HOST}:{PORTS[name]}", "--log.level", "error"], workdir / f"{name}.log")
                   for name in EXPORTERS}
        processes.extend(started.values())
        exporter = started["cgminer"]
        wait_until("exporter", lambda: requests.get(f"{exporter_url}/-/ready", timeout=5).ok, 120)
        exposition = exposition_by_profile(exporter_url)  # also the warm-up: firmware detection
        vm_url = f"http://{HOST}:{PORTS['vm']}"
        vm = start(["victoria-metrics", f"-storageDataPath={workdir / 'vm'}", f"-httpListenAddr={HOST}:{PORTS['vm']}",
                    "-retentionPeriod=1", "-loggerLevel=ERROR"], workdir / "vm.log")
        processes.append(vm)
        wait_until("VictoriaMetrics", lambda: requests.get(f"{vm_url}/health", timeout=5).ok, 60)
        prometheus = start_prometheus(workdir, "data", prometheus_config(workdir, interval, scrape=True),
                                      PORTS["prometheus"], block)
        processes.append(prometheus)
        prom_url = f"http://{HOST}:{PORTS['prometheus']}"
        wait_until("all miners up", lambda: scalar("sum(miner_up)") == args.miners, 120 + 10 * interval)
        wait_until("profitability per miner", lambda: scalar("count(profitability_miner_profit_per_day)") == args.miners,
                   120 + 10 * interval)
        print(f"{args.miners} miners up; waiting for a full {block:g} s block (compacted after ~1.5 block ranges)",
              flush=True)
        time.sleep(6 * interval)  # every recording rule evaluated, rates defined
        window_began = time.monotonic()
        cpu_before = cpu_seconds(exporter.pid)
        samples_before = summed(own_metrics(f"{prom_url}/metrics"), "prometheus_tsdb_head_samples_appended_total")
        peak = {"rss": 0.0, "head": 0.0}

        def block_written() -> list[dict] | None:
            metrics = own_metrics(f"{prom_url}/metrics")
            if metrics["prometheus_tsdb_head_series"] >= peak["head"]:
                peak.update(rss=rss_mb(prometheus.pid), head=metrics["prometheus_tsdb_head_series"],
                            heap=metrics.get("go_memstats_heap_inuse_bytes", 0.0) / 2**20)
            return full_blocks(workdir / "data", block * 1000) or None

        by_profile, miners_by_profile = series_by_profile()
        profitability_miner = scalar('count({job="hashwatch-profitability", miner!=""})')
        other_jobs = scalar('count({job=~"hashwatch-(ocean|market|profitability)", miner="", __name__!~".+:.+"})')
        recorded_miner = scalar('count({__name__=~".+:.+", miner!=""})')
        recorded_fixed = scalar('count({__name__=~".+:.+", miner=""})')
        raw_miner = scalar(f"count({RAW_MINER})")
        scrape_meta = scalar('count({job="hashwatch-cgminer", miner="", __name__!~".+:.+"})')
        blocks = wait_until("a full block", block_written, 4 * block + 180, every=interval)
        elapsed = time.monotonic() - window_began
        cpu = cpu_seconds(exporter.pid) - cpu_before
        scrapes = max(1.0, scalar(f'count_over_time(up{{job="hashwatch-cgminer"}}[{int(elapsed)}s])'))
        samples = summed(own_metrics(f"{prom_url}/metrics"), "prometheus_tsdb_head_samples_appended_total") - samples_before
        failed = summed(own_metrics(f"{prom_url}/metrics"), "prometheus_remote_storage_samples_failed_total")
        time.sleep(3 * interval)  # the remote_write queue drains
        victoria = victoria_metrics_sizes(vm_url, workdir)
        first = blocks[0]
        return {
            "miners": args.miners, "interval_s": interval, "block_s": block, "calibration_s": calibration,
            "profiles": miners_by_profile, "series_by_profile": by_profile, "exposition_by_profile": exposition,
            "raw_per_miner": raw_miner / args.miners, "recorded_per_miner": recorded_miner / args.miners,
            "recorded_fixed": recorded_fixed, "exporter_and_scrape_series": scrape_meta,
            "profitability_per_miner": profitability_miner / args.miners, "other_exporters_fixed": other_jobs,
            "head_series": peak["head"], "samples_per_s": samples / elapsed,
            "block": {k: first["stats"][k] for k in ("numSamples", "numSeries", "numChunks")}
            | {"chunk_bytes": first["chunk_bytes"], "index_bytes": first["index_bytes"]},
            "prometheus_rss_mb": peak["rss"], "prometheus_heap_mb": peak.get("heap", 0.0),
            "empty_prometheus_rss_mb": baseline_rss, "remote_write_failed": failed,
            "vm": victoria, "vm_rss_mb": rss_mb(vm.pid),
            "exporter_cpu_s_per_1000_per_scrape": cpu / scrapes / args.miners * 1000,
        }
    finally:
        for process in reversed(processes):
            stop(process)
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def report(r: dict) -> None:
    scale = r["interval_s"] / PRODUCTION_INTERVAL
    block = r["block"]
    print(f"\n{r['miners']} miners, scraped and evaluated every {r['interval_s']:g} s, block range {r['block_s']:g} s "
          f"(production: 30 s, 2 h); {os.cpu_count()} cores, calibration {r['calibration_s']:.2f} s\n")
    print(f"{'profile':<18} {'miners':>6} {'exposition':>10} {'prometheus':>10}   series per miner")
    for profile, per_miner in r["series_by_profile"].items():
        print(f"{profile:<18} {r['profiles'][profile]:>6} {r['exposition_by_profile'].get(profile, 0):>10.1f} "
              f"{per_miner:>10.1f}")
    per_miner = r["raw_per_miner"] + r["recorded_per_miner"] + r["profitability_per_miner"]
    vm = r["vm"]
    rows = [
        ("raw series per miner (average)", f"{r['raw_per_miner']:.1f}"),
        ("recorded series per miner (rules keeping `miner`)", f"{r['recorded_per_miner']:.2f}"),
        ("recorded series, fixed (fleet, site, model)", f"{r['recorded_fixed']:.0f}"),
        ("profitability series per miner", f"{r['profitability_per_miner']:.2f}"),
        ("CGMiner exporter's own and scrape series", f"{r['exporter_and_scrape_series']:.0f}"),
        ("Ocean, market, profitability: series without `miner`", f"{r['other_exporters_fixed']:.0f}"),
        ("head series (prometheus_tsdb_head_series, peak)", f"{r['head_series']:.0f}"),
        ("series per miner, all (raw + recorded + profitability)", f"{per_miner:.1f}"),
        ("samples/s measured", f"{r['samples_per_s']:.0f}"),
        ("samples/s per miner at 30 s", f"{r['samples_per_s'] * scale / r['miners']:.2f}"),
        ("Prometheus block: series / samples / chunks", f"{block['numSeries']} / {block['numSamples']} / {block['numChunks']}"),
        ("Prometheus bytes/sample, chunks", f"{block['chunk_bytes'] / block['numSamples']:.2f}"),
        ("Prometheus bytes/sample, chunks + index", f"{(block['chunk_bytes'] + block['index_bytes']) / block['numSamples']:.2f}"),
        ("VictoriaMetrics rows (remote_write)", f"{vm['rows']:.0f}"),
        ("VictoriaMetrics bytes/sample, data", f"{vm['data_bytes'] / max(1, vm['rows']):.2f}"),
        ("VictoriaMetrics bytes/sample, whole directory", f"{vm['disk_bytes'] / max(1, vm['rows']):.2f}"),
        ("Prometheus RSS MB at peak head (empty Prometheus)", f"{r['prometheus_rss_mb']:.0f} ({r['empty_prometheus_rss_mb']:.0f})"),
        ("Prometheus Go heap in use MB at peak head", f"{r['prometheus_heap_mb']:.0f}"),
        ("Prometheus KB per head series, RSS over empty",
         f"{(r['prometheus_rss_mb'] - r['empty_prometheus_rss_mb']) * 1024 / r['head_series']:.2f}"),
        ("VictoriaMetrics RSS MB", f"{r['vm_rss_mb']:.0f}"),
        ("remote_write samples failed", f"{r['remote_write_failed']:.0f}"),
        ("exporter CPU s per 1,000 miners per scrape", f"{r['exporter_cpu_s_per_1000_per_scrape']:.3f}"),
    ]
    print()
    for name, value in rows:
        print(f"{name:<52} {value:>20}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--miners", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=2.0, help="scrape and evaluation interval, seconds")
    parser.add_argument("--workers", type=int, default=1, help="fleet.workers of the exporter")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (data, logs)")
    args = parser.parse_args()
    if not shutil.which("prometheus") or not shutil.which("victoria-metrics"):
        sys.exit("needs Debian's prometheus and victoria-metrics (./scripts/setup installs them)")
    result = run(args)
    report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
