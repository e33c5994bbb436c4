"""A real Alertmanager (Debian's prometheus-alertmanager) on loopback, from a copy of the committed config.

local_config() rewrites only the endpoints (Slack api_url_file, SMTP smarthost, webhook
URLs), the template paths and the grouping timers of alertmanager/alertmanager.yml, so
routes, receivers, inhibitions and templates are the committed ones.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import yaml

from tests.support.processes import ServerProcess, free_port
from tests.support.prometheus_server import PrometheusServer

# Notifier kinds the copy keeps; any other kind would reach outside loopback and is dropped.
KEPT_NOTIFIERS = ("webhook_configs", "slack_configs", "email_configs")
TIMERS = {"group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"}


def _shorten_timers(route: dict[str, Any], top: bool) -> None:
    for key, value in TIMERS.items():
        if top or key in route:
            route[key] = value
    for child in route.get("routes", []) or []:
        _shorten_timers(child, top=False)


def local_config(
    committed: dict[str, Any],
    *,
    workdir: Path,
    webhook_url: str,
    slack_url: str,
    smarthost: str,
    templates_dir: Path,
) -> tuple[dict[str, Any], list[str]]:
    """(the rewritten config, notes on what was changed beyond endpoints).

    Slack: every api_url/api_url_file becomes a file under workdir holding
    `{slack_url}/slack/<original file name>`, so the sink can tell channels apart.
    Webhooks keep their path on the webhook sink. SMTP goes to the sink, without TLS or AUTH.
    """
    config = copy.deepcopy(committed)
    notes: list[str] = []
    secrets = workdir / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)

    def slack_file(original: str) -> str:
        name = Path(original).name if original else "slack-default"
        path = secrets / name
        path.write_text(f"{slack_url}/slack/{name}\n")
        return str(path)

    glob = config.setdefault("global", {})
    if "slack_api_url" in glob or "slack_api_url_file" in glob:
        glob["slack_api_url_file"] = slack_file(glob.pop("slack_api_url_file", "") or "slack-global")
        glob.pop("slack_api_url", None)
    glob["smtp_smarthost"] = smarthost
    glob["smtp_require_tls"] = False
    for key in [k for k in glob if k.startswith("smtp_auth_")]:
        glob.pop(key)

    config["templates"] = [str(templates_dir / Path(pattern).name) for pattern in config.get("templates", [])]

    for receiver in config.get("receivers", []):
        for kind in [k for k in receiver if k.endswith("_configs") and k not in KEPT_NOTIFIERS]:
            notes.append(f"receiver {receiver['name']}: dropped {kind} (not loopback)")
            receiver.pop(kind)
        for slack in receiver.get("slack_configs", []):
            own = "api_url" in slack or "api_url_file" in slack
            original = slack.pop("api_url_file", "") or "slack-" + receiver["name"]
            slack.pop("api_url", None)
            if own or "slack_api_url_file" not in glob:
                slack["api_url_file"] = slack_file(original)
            slack.get("http_config", {}).pop("proxy_url", None)
        for mail in receiver.get("email_configs", []):
            mail["smarthost"] = smarthost
            mail["require_tls"] = False
            for key in [k for k in mail if k.startswith("auth_")]:
                mail.pop(key)
        for hook in receiver.get("webhook_configs", []):
            original = hook.pop("url", None) or "/alerts"
            hook.pop("url_file", None)
            parts = urlsplit(original)
            hook["url"] = webhook_url + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            hook.get("http_config", {}).pop("proxy_url", None)

    _shorten_timers(config["route"], top=True)
    return config, notes


class AlertmanagerServer(ServerProcess):
    name = "alertmanager"

    def __init__(self, workdir: Path, config: dict[str, Any]):
        binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        if binary is None:
            pytest.fail("alertmanager not found: install Debian's prometheus-alertmanager package")
        self.config_path = workdir / "alertmanager.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self._check_config()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [
            binary,
            f"--config.file={self.config_path}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",  # no gossip: a single local instance
            "--log.level=info",
        ]
        super().__init__(workdir, argv, f"{self.url}/-/ready")

    def _check_config(self) -> None:
        amtool = shutil.which("amtool")
        if amtool is None:
            return
        done = subprocess.run([amtool, "check-config", str(self.config_path)], capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            pytest.fail(f"the local copy of alertmanager.yml is invalid:\n{done.stdout}{done.stderr}")

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        params = {"filter": [f'{k}="{v}"' for k, v in filters.items()]}
        response = requests.get(f"{self.url}/api/v2/alerts", params=params, timeout=10)
        response.raise_for_status()
        return response.json()


class AlertingPrometheus(PrometheusServer):
    """PrometheusServer with rule-manager flags for alerting tests.

    --rules.alert.resend-delay: Prometheus drops the alerts of its first evaluations when
    no Alertmanager is discovered yet and resends firing alerts only after this delay
    (default 1m); a short delay makes delivery independent of that start-up race.
    """

    def __init__(self, workdir: Path, config: dict[str, Any], resend_delay: str = "2s"):
        super().__init__(workdir, config, extra_flags=(f"--rules.alert.resend-delay={resend_delay}",))
