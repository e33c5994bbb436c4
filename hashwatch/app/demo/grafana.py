"""Grafana for the demo when it is installed: an ini and provisioning in the workdir; otherwise, how to get it.

The provisioning is the committed grafana/provisioning, with each datasource's
URL rewritten to the demo's (by uid) and the dashboards provider pointed at
the committed grafana/dashboards; viewing is anonymous and read-only.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from .configs import package_dir
from .layout import Layout
from .processes import Child

HOMEPATHS = ("/usr/share/grafana", "/usr/local/share/grafana", "/opt/grafana")
HOW_TO_GET = """\
Grafana is not installed, so the demo runs without it. To get it (Grafana's own APT repository):
    sudo apt-get install -y apt-transport-https software-properties-common wget
    sudo mkdir -p /etc/apt/keyrings
    wget -q -O - https://apt.grafana.com/gpg.key | gpg --dearmor | sudo tee /etc/apt/keyrings/grafana.gpg > /dev/null
    echo "deb [signed-by=/etc/apt/keyrings/grafana.gpg] https://apt.grafana.com stable main" | sudo tee /etc/apt/sources.list.d/grafana.list
    sudo apt-get update && sudo apt-get install -y grafana
  then run the demo again (it starts Grafana itself; stop the system service: sudo systemctl disable --now grafana-server).
  Meanwhile, what the dashboards show: docs/previews/*.png."""


def find() -> tuple[list[str], str] | None:
    """(the command that starts Grafana's server, its homepath), or None when it is not installed."""
    homepath = next((path for path in HOMEPATHS if Path(path, "conf", "defaults.ini").is_file()), None)
    server = shutil.which("grafana-server")
    if server and homepath:
        return [server], homepath
    grafana = shutil.which("grafana")
    if grafana and homepath:
        return [grafana, "server"], homepath
    return None


# uid -> the demo service whose URL that datasource gets (docs: shared interfaces)
DATASOURCE_SERVICES = {"hashwatch-prometheus": "prometheus", "hashwatch-alertmanager": "alertmanager",
                       "hashwatch-influxdb": "influxdb"}


def provisioning(layout: Layout, target: Path, influxdb: bool) -> None:
    source = package_dir("grafana")
    datasources = yaml.safe_load((source / "provisioning" / "datasources" / "hashwatch.yml").read_text())
    kept = []
    for datasource in datasources.get("datasources", []):
        service = DATASOURCE_SERVICES.get(datasource.get("uid", ""))
        if service == "influxdb" and not influxdb:
            continue
        if service is not None:
            datasource["url"] = layout.url(service)
        kept.append(datasource)
    datasources["datasources"] = kept
    providers = yaml.safe_load((source / "provisioning" / "dashboards" / "hashwatch.yml").read_text())
    for provider in providers.get("providers", []):
        provider.setdefault("options", {})["path"] = str(source / "dashboards")
    for kind, document in (("datasources", datasources), ("dashboards", providers)):
        (target / kind).mkdir(parents=True, exist_ok=True)
        (target / kind / "hashwatch.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    for kind in ("plugins", "alerting", "notifiers"):
        (target / kind).mkdir(exist_ok=True)


def child(layout: Layout, workdir: Path, influxdb: bool, command: list[str], homepath: str) -> Child:
    root = workdir / "grafana"
    provisioning(layout, root / "provisioning", influxdb)
    ini = root / "grafana.ini"
    ini.write_text(f"""\
[paths]
data = {root / 'data'}
logs = {root / 'logs'}
plugins = {root / 'plugins'}
provisioning = {root / 'provisioning'}

[server]
http_addr = {layout.host}
http_port = {layout.url('grafana').rsplit(':', 1)[1]}

[auth.anonymous]
enabled = true
org_role = Viewer

[analytics]
reporting_enabled = false
check_for_updates = false
check_for_plugin_updates = false

[dashboards]
default_home_dashboard_path = {package_dir('grafana') / 'dashboards' / 'fleet.json'}
""")
    return Child("grafana", [*command, "--homepath", homepath, "--config", str(ini)],
                 ready_url=f"{layout.url('grafana')}/api/health")
