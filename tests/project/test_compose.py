"""docker-compose.yml, checked without Docker: what can be known about the stack from its files.

No Docker engine runs where hashwatch is tested, so nothing here starts a
container. Checked: Debian's `docker-compose config` accepts the file (default, demo and
scale-out profiles); every image is pinned to an exact version; every service has a
healthcheck (one-shot jobs excepted, and waited for); nothing runs as root; every
bind-mounted path, and every file the mounted configs and commands name, exists;
every hashwatch command is a real subcommand with real flags; ports, scrape
targets, Alertmanager's webhook and Grafana's datasources name compose services
on the ports they listen on; the live and demo hashwatch configs pass hashwatch's
own validation and agree with the services; the scale-out profile's shards, vmalert and
Alertmanager pair are wired to each other as prometheus/scale-out/ describes (hashmod
buckets each kept once, vmalert's flags the committed ones, notifications to every
Alertmanager directly, gossip peers by compose name). The checks live in
tests/support/compose_checks.py; the last test mutates copies to show each can fail.
Not checked (needs an engine): that images pull, containers start, healthchecks pass.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path, PurePosixPath

import pytest
import yaml
from click.testing import CliRunner

import hashwatch
from hashwatch.app.cli import main as hashwatch_cli
from hashwatch.app.settings import HashwatchConfig
from hashwatch.config import load_config
from simulator import PROFILES, SimulatedFleet
from simulator.scenario import load_scenario
from simulator.upstreams import load_workers
from tests.support import compose_checks as checks
from tests.support.paths import REPO

COMPOSE = REPO / "docker-compose.yml"
DEMO_CONFIG = REPO / "deploy" / "demo" / "hashwatch.yml"
LIVE_CONFIG = REPO / "deploy" / "compose" / "hashwatch.yml"
SECRETS_SCRIPT = REPO / "deploy" / "compose" / "make_secrets.py"
COMPOSE_VARIABLES = ("HASHWATCH_CONFIG", "GRAFANA_ADMIN_PASSWORD", "INFLUXDB_ADMIN_PASSWORD", "INFLUXDB_TOKEN")


def _secrets_script():
    """deploy/compose/make_secrets.py, imported as a module (it is a script mounted into a container)."""
    spec = importlib.util.spec_from_file_location("make_secrets", SECRETS_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compose():
    return checks.load(COMPOSE)


def _docker_compose(*args: str, file: Path = COMPOSE, **env: str) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (Debian package docker-compose; ./scripts/setup installs it)")
    clean = {k: v for k, v in os.environ.items() if k not in COMPOSE_VARIABLES and not k.startswith("COMPOSE_")}
    return subprocess.run(
        [binary, "--project-directory", str(REPO), "-f", str(file), *args],
        cwd=REPO, env={**clean, **env}, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(
    "args, env",
    [
        ((), {}),
        (("--profile", "demo"), {"HASHWATCH_CONFIG": "./deploy/demo/hashwatch.yml"}),
        (("--profile", "demo"), {"GRAFANA_ADMIN_PASSWORD": "from-the-environment"}),
        (("--profile", "scale-out"), {}),
    ],
    ids=["default", "demo", "demo-with-env", "scale-out"],
)
def test_docker_compose_accepts_the_file(args, env):
    done = _docker_compose(*args, "config", "-q", **env)
    assert done.returncode == 0, done.stderr


def test_docker_compose_rejects_a_broken_copy(tmp_path, compose):
    """The validation above can fail: an unknown depends_on condition is refused."""
    broken = copy.deepcopy(compose)
    broken["services"]["grafana"]["depends_on"]["prometheus"]["condition"] = "service_ready"
    (tmp_path / "docker-compose.yml").write_text(yaml.safe_dump(broken))
    done = _docker_compose("config", "-q", file=tmp_path / "docker-compose.yml")
    assert done.returncode != 0 and "service_ready" in done.stderr


def test_images_are_pinned(compose):
    assert checks.image_problems(compose, hashwatch.__version__) == []
    assert checks.dockerfile_problems((REPO / "Dockerfile").read_text()) == []


def test_alertmanager_image_is_the_version_amtool_checks_the_config_with(compose):
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("amtool is not installed (Debian package prometheus-alertmanager)")
    done = subprocess.run([amtool, "--version"], capture_output=True, text=True, timeout=30)
    version = (done.stdout + done.stderr).split("version ")[1].split()[0].split("+")[0]
    tag = compose["services"]["alertmanager"]["image"].rpartition(":v")[2]
    assert tag.split(".")[:2] == version.split(".")[:2], f"image {tag}, amtool {version}"


def test_every_service_has_a_healthcheck(compose):
    assert checks.healthcheck_problems(compose) == []


def test_nothing_runs_as_root(compose):
    assert checks.user_problems(compose) == []
    uid = checks.dockerfile_uid((REPO / "Dockerfile").read_text())
    assert uid and int(uid) >= 1000
    for name, service in compose["services"].items():
        reads_secrets = any(source == "secrets" for source, _, _ in checks.mounts(service))
        if reads_secrets and not checks.is_hashwatch(service):  # the files are 0640, hashwatch's group
            assert uid in [str(g) for g in service.get("group_add", [])], name


def test_bind_mounted_paths_exist(compose):
    assert checks.bind_mount_problems(compose, REPO) == []
    with_demo = copy.deepcopy(compose)
    for service in with_demo["services"].values():
        service["volumes"] = [v.replace("./deploy/compose/hashwatch.yml", "./deploy/demo/hashwatch.yml")
                              for v in service.get("volumes", [])]
    assert checks.bind_mount_problems(with_demo, REPO) == []


def test_files_named_by_commands_and_mounted_configs_exist(compose):
    services = compose["services"]
    assert checks.command_path_problems(compose, REPO) == []
    prometheus = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
    for pattern in prometheus["rule_files"]:
        kind, host = checks.resolve(services["prometheus"], REPO, pattern)
        assert kind == "bind" and list(Path(host).parent.glob(Path(host).name)), pattern
    for job in prometheus["scrape_configs"]:
        for sd in job.get("file_sd_configs", []):
            for pattern in sd["files"]:
                kind, host = checks.resolve(services["prometheus"], REPO, pattern)
                assert kind == "bind" and Path(host).parent.is_dir(), pattern
    alertmanager = yaml.safe_load((REPO / "alertmanager" / "alertmanager.yml").read_text())
    for pattern in alertmanager["templates"]:
        assert list((REPO / "alertmanager").glob(pattern)), pattern
    grafana = services["grafana"]
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert Path(checks.resolve(grafana, REPO, home)[1]).is_file(), home
    providers = yaml.safe_load((REPO / "grafana" / "provisioning" / "dashboards" / "hashwatch.yml").read_text())
    for provider in providers["providers"]:
        kind, host = checks.resolve(grafana, REPO, provider["options"]["path"])
        assert kind == "bind" and list(Path(host).glob("*.json")), provider
    SECRETS = _secrets_script().SECRETS
    for name, service in services.items():
        for variable, value in (service.get("environment") or {}).items():
            if variable.endswith("_FILE"):
                assert checks.resolve(service, REPO, value) == ("volume", "secrets"), (name, variable)
                assert Path(value).name in SECRETS, (name, variable)
    scripts = [p for p in (REPO / "deploy" / "compose" / "influxdb-init").glob("*.sh")]
    assert scripts and all(p.stat().st_mode & stat.S_IXOTH for p in scripts), "run-parts runs executable scripts only"


def test_hashwatch_commands_are_real_subcommands_with_real_flags(compose):
    runner = CliRunner()
    seen = set()
    for name, service in compose["services"].items():
        if not checks.is_hashwatch(service) or "entrypoint" in service:
            continue
        result = runner.invoke(hashwatch_cli, [*service["command"], "--help"])
        assert result.exit_code == 0, f"{name}: hashwatch {' '.join(service['command'])}: {result.output}"
        seen.add(service["command"][0])
    assert {"cgminer", "ocean", "market", "profitability", "webhook", "simulate", "upstreams"} <= seen
    assert runner.invoke(hashwatch_cli, ["cgminer", "--no-such-flag=1", "--help"]).exit_code != 0


def test_ports_targets_and_datasources_name_compose_services(compose):
    assert checks.port_problems(compose) == []
    prometheus = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
    urls = {}
    for job in prometheus["scrape_configs"]:
        for static in job.get("static_configs", []):
            urls.update({f"prometheus job {job['job_name']}": t for t in static["targets"]})
        for relabel in job.get("relabel_configs", []):
            if relabel.get("target_label") == "__address__":
                urls[f"prometheus job {job['job_name']} /probe"] = relabel["replacement"]
    urls["prometheus alerting"] = prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0]
    alertmanager = yaml.safe_load((REPO / "alertmanager" / "alertmanager.yml").read_text())
    for receiver in alertmanager["receivers"]:
        for index, hook in enumerate(receiver.get("webhook_configs", [])):
            urls[f"alertmanager receiver {receiver['name']} webhook {index}"] = hook["url"]
    datasources = yaml.safe_load((REPO / "grafana" / "provisioning" / "datasources" / "hashwatch.yml").read_text())
    by_uid = {d["uid"]: d for d in datasources["datasources"]}
    assert set(by_uid) == {"hashwatch-prometheus", "hashwatch-alertmanager", "hashwatch-influxdb"}
    urls.update({f"grafana datasource {uid}": d["url"] for uid, d in by_uid.items()})
    assert checks.url_problems(compose, urls) == []
    influxdb = compose["services"]["influxdb"]["environment"]
    database = by_uid["hashwatch-influxdb"].get("jsonData", {}).get("dbName") or by_uid["hashwatch-influxdb"].get("database")
    assert database == influxdb["DOCKER_INFLUXDB_INIT_BUCKET"] == "hashwatch"
    dbrp = (REPO / "deploy" / "compose" / "influxdb-init" / "hashwatch-dbrp.sh").read_text()
    assert f"--db {database}" in dbrp


def test_grafana_gets_every_variable_its_provisioning_uses(compose):
    grafana = compose["services"]["grafana"]
    wrapper = " ".join(grafana.get("entrypoint", []))
    secrets = _secrets_script().SECRETS
    for path in sorted((REPO / "grafana" / "provisioning").rglob("*.yml")):
        for variable in re.findall(r"\$\{?(\w+)\}?", path.read_text()):
            if variable.startswith("__") or variable in (grafana.get("environment") or {}):
                continue  # Grafana's own $__file{}, $__rate_interval..., or set directly
            match = re.search(rf'{variable}="\$\$\(cat (\S+)\)"', wrapper)
            assert match, f"{path.name} uses ${variable}, which the grafana service does not set"
            assert checks.resolve(grafana, REPO, match.group(1)) == ("volume", "secrets")
            assert PurePosixPath(match.group(1)).name in secrets


def _simulated_workers() -> set[str]:
    """Worker names the simulated miners report (what follows the first dot of a pool user)."""
    found: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key.lower() == "user" and isinstance(value, str) and "." in value:
                    found.add(value.partition(".")[2])
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for profile in PROFILES.values():
        for capture in {**profile.replies, **profile.cmd_replies}.values():
            walk(profile.load(capture))
    return found


def test_live_and_demo_configs_pass_validation_and_agree_with_the_services(compose):
    services = compose["services"]
    environment = services["influxdb"]["environment"]
    for path in (LIVE_CONFIG, DEMO_CONFIG):
        config = load_config(HashwatchConfig, path)  # what `hashwatch <service> --config.file` does
        urls = {"profitability.prometheus_url": config.profitability.prometheus_url}
        for key, ledger in {"profitability": config.profitability.ledger, "webhook": config.webhook.ledger}.items():
            assert ledger is not None, f"{path.name}: {key}.ledger off: Grafana's InfluxDB panels would be empty"
            urls[f"{key}.ledger.url"] = ledger.url
            assert (ledger.org, ledger.bucket) == (environment["DOCKER_INFLUXDB_INIT_ORG"], environment["DOCKER_INFLUXDB_INIT_BUCKET"])
            service = services[f"hashwatch-{key}"]
            assert checks.resolve(service, REPO, str(ledger.token_file)) == ("volume", "secrets")
            assert checks.resolve(service, REPO, str(ledger.spool_dir))[0] == "volume", f"{key}: spool not persisted"
        assert checks.resolve(services["hashwatch-webhook"], REPO, str(config.webhook.db_path))[0] == "volume"
        assert checks.url_problems(compose, urls) == [], path.name

    demo = load_config(HashwatchConfig, DEMO_CONFIG)
    options = dict(a.removeprefix("--").split("=", 1) for a in services["demo-fleet"]["command"][1:])
    fleet = SimulatedFleet.build(int(options["miners"]), first_address=options["first-address"], port=int(options["port"]))
    assert [m.target for m in demo.cgminer.fleet.miners] == fleet.targets()
    assert all(m.labels.get("site") for m in demo.cgminer.fleet.miners)
    assert services["demo-fleet"]["network_mode"] == "service:hashwatch-cgminer"
    scenario = options["scenario"].replace("/etc/hashwatch/demo", str(REPO / "deploy" / "demo"))
    assert load_scenario(scenario, fleet).steps
    upstreams = {"ocean.api_url": demo.ocean.api_url}
    upstreams.update({f"market.{s.name}": s.base_url for s in [*demo.market.price_sources, *demo.market.network_sources]})
    assert all(url and url.startswith("http://upstreams:") for url in upstreams.values()), upstreams
    assert checks.url_problems(compose, upstreams) == []
    workers_flag = next(a for a in services["upstreams"]["command"] if a.startswith("--ocean.workers="))
    workers = load_workers(workers_flag.split("=", 1)[1].replace("/etc/hashwatch/demo", str(REPO / "deploy" / "demo")))
    assert set(workers) <= _simulated_workers(), "Ocean credits workers the simulated fleet does not have"


def test_make_secrets_writes_each_file_once(tmp_path):
    script = _secrets_script()
    SECRETS, main = script.SECRETS, script.main
    assert main(["make_secrets.py", str(tmp_path)]) == 0
    first = {name: (tmp_path / name).read_text() for name in SECRETS}
    assert all(len(value.strip()) >= 40 for value in first.values()) and len(set(first.values())) == len(SECRETS)
    assert all(stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640 for name in SECRETS)
    os.environ["GRAFANA_ADMIN_PASSWORD"] = "a-new-password-from-env"
    try:
        assert main(["make_secrets.py", str(tmp_path)]) == 0  # kept: Grafana and InfluxDB already use them
        assert {name: (tmp_path / name).read_text() for name in SECRETS} == first
        (tmp_path / "grafana-admin-password").unlink()
        assert main(["make_secrets.py", str(tmp_path)]) == 0
        assert (tmp_path / "grafana-admin-password").read_text() == "a-new-password-from-env\n"
        os.environ["GRAFANA_ADMIN_PASSWORD"] = "short"
        (tmp_path / "grafana-admin-password").unlink()
        assert main(["make_secrets.py", str(tmp_path)]) == 1
    finally:
        del os.environ["GRAFANA_ADMIN_PASSWORD"]
    assert main(["make_secrets.py", str(tmp_path / "missing")]) == 2


SCALE_OUT = REPO / "prometheus" / "scale-out"


def test_scale_out_profile_has_the_topology_of_prometheus_scale_out(compose):
    """Two shards, VictoriaMetrics, vmalert and a second Alertmanager; checked like the rest (pinned,
    healthy, non-root, mounts: the tests above cover every service), and wired as docs/scaling.md says."""
    services = compose["services"]
    assert set(checks.in_profile(compose, "scale-out")) == {
        "prometheus-shard-0", "prometheus-shard-1", "victoriametrics", "vmalert", "alertmanager-1"}
    assert checks.shard_problems(compose, REPO) == []
    assert checks.vmalert_problems(compose, REPO, SCALE_OUT / "vmalert.flags") == []
    assert checks.gossip_problems(compose) == []
    for name in ("prometheus-shard-0", "prometheus-shard-1"):
        command = services[name]["command"]
        assert "--enable-feature=agent" in command and checks.resolve(
            services[name], REPO, checks.flag_values(command, "--storage.agent.path")[0])[0] == "volume", name
    data = checks.flag_values(services["victoriametrics"]["command"], "-storageDataPath")[0]
    assert checks.resolve(services["victoriametrics"], REPO, data)[0] == "volume", "VictoriaMetrics' data not persisted"
    # The generated alerting rules use keep_firing_for: vmalert v1.92.0 or later reads them.
    versions = {services[n]["image"].rpartition(":v")[2] for n in ("victoriametrics", "vmalert")}
    assert len(versions) == 1 and tuple(int(p) for p in versions.pop().split(".")[:2]) >= (1, 92)
    assert services["alertmanager-1"]["image"] == services["alertmanager"]["image"]
    assert services["alertmanager-1"]["volumes"][0] == services["alertmanager"]["volumes"][0]  # the same config


def test_scale_out_checks_can_fail(compose):
    def vmalert_args(services):
        return services["vmalert"]["command"]

    broken = {
        "one notifier": lambda s, c: vmalert_args(s).remove("-notifier.url=http://alertmanager-1:9093"),
        "notifier typo": lambda s, c: vmalert_args(s).__setitem__(
            vmalert_args(s).index("-notifier.url=http://alertmanager-1:9093"), "-notifier.url=http://alertmanager-2:9093"),
        "unmounted rules": lambda s, c: s["vmalert"].update(volumes=[]),
        "peer port": lambda s, c: s["alertmanager-1"]["command"].__setitem__(-1, "--cluster.peer=alertmanager-0:9093"),
        "no alias": lambda s, c: s["alertmanager"].pop("networks"),
        "no gossip": lambda s, c: s["alertmanager"]["command"].__setitem__(3, "--cluster.listen-address="),
        "shard config": lambda s, c: s["prometheus-shard-1"]["volumes"].__setitem__(
            0, "./prometheus/scale-out/shard-0.yml:/etc/prometheus/shard.yml:ro"),
        "unmounted miners": lambda s, c: s["prometheus-shard-0"]["volumes"].pop(1),
    }
    for what, change in broken.items():
        copied = _mutated(compose, change)
        found = (checks.shard_problems(copied, REPO) + checks.gossip_problems(copied)
                 + checks.vmalert_problems(copied, REPO, SCALE_OUT / "vmalert.flags"))
        assert found, what
    assert checks.vmalert_problems(compose, REPO, SCALE_OUT / "shard-0.yml") != []  # not its flags file


def _mutated(compose, change):
    copied = copy.deepcopy(compose)
    change(copied["services"], copied)
    return copied


MUTATIONS = {
    "latest tag": (lambda s, c: s["grafana"].update(image="grafana/grafana:latest"), "image"),
    "minor-only tag": (lambda s, c: s["influxdb"].update(image="influxdb:2.7"), "image"),
    "stale hashwatch tag": (lambda s, c: s["hashwatch-ocean"].update(image="hashwatch:0.0.1"), "image"),
    "no healthcheck": (lambda s, c: s["prometheus"].pop("healthcheck"), "health"),
    "not waiting for secrets": (lambda s, c: s["grafana"]["depends_on"].pop("secrets"), "health"),
    "secrets started only": (lambda s, c: s["influxdb"]["depends_on"]["secrets"].update(condition="service_started"), "health"),
    "root user": (lambda s, c: s["alertmanager"].update(user="0"), "user"),
    "no user": (lambda s, c: s["influxdb"].pop("user"), "user"),
    "missing bind source": (lambda s, c: s["prometheus"]["volumes"].append("./prometheus/nothing:/x:ro"), "bind"),
    "undeclared volume": (lambda s, c: c["volumes"].pop("grafana-data"), "bind"),
    "unmounted scenario": (lambda s, c: s["demo-fleet"].update(volumes=[]), "command"),
    "missing workers file": (lambda s, c: s["upstreams"]["command"].__setitem__(2, "--ocean.workers=/etc/hashwatch/demo/x.json"), "command"),
    "port mismatch": (lambda s, c: s["hashwatch-market"].update(ports=["9999:9893"]), "port"),
    "healthcheck port": (lambda s, c: s["hashwatch-webhook"]["healthcheck"].update(test=["CMD", "true"]), "port"),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_each_check_can_fail(compose, mutation):
    change, check = MUTATIONS[mutation]
    broken = _mutated(compose, change)
    run = {
        "image": lambda: checks.image_problems(broken, hashwatch.__version__),
        "health": lambda: checks.healthcheck_problems(broken),
        "user": lambda: checks.user_problems(broken),
        "bind": lambda: checks.bind_mount_problems(broken, REPO),
        "command": lambda: checks.command_path_problems(broken, REPO),
        "port": lambda: checks.port_problems(broken),
    }[check]
    assert run() != []


def test_url_and_dockerfile_checks_can_fail(compose):
    assert checks.url_problems(compose, {"x": "http://prometheus:9091"}) != []
    assert checks.url_problems(compose, {"x": "http://grafana-typo:3000"}) != []
    assert checks.dockerfile_problems("FROM python:3.11-slim\nUSER hashwatch\n") != []
    assert checks.dockerfile_problems("FROM python:3.11.11-slim\nUSER hashwatch\nUSER root\n") != []
    assert checks.dockerfile_problems("FROM python:3.11.11-slim\n") != []
