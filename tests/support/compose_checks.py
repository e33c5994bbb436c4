"""Static checks of docker-compose.yml and the files it mounts, for tests/project/test_compose.py.

No Docker engine runs where hashwatch is tested, so the stack is checked as text:
each function takes the parsed compose file (and the repository root) and returns
a list of problems, empty when all is well. The tests run them on the real file
and on mutated copies, so every check is shown to be able to fail.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import yaml

VERSION_TAG = re.compile(r"^v?\d+\.\d+\.\d+$")  # an exact release: no `latest`, no `2.7`, no `12-ubuntu`
DEFAULTED = re.compile(r"^\$\{(\w+):-([^}]*)\}(.*)$")  # ${VAR:-default}rest

# Services that are one-shot jobs, not long-running: no healthcheck, but everything
# that needs them must wait for them to have *completed successfully*.
ONE_SHOT = {"secrets": "writes the secret files once, then exits"}

# Images allowed to run without an explicit `user:`, and why. Everything else must set one.
NON_ROOT_IMAGES = {"hashwatch": "built by the Dockerfile, whose final USER is checked by dockerfile_problems()"}


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def default_value(text: str) -> str:
    """`${VAR:-./x}:/y` -> `./x:/y`: what compose uses when VAR is unset."""
    match = DEFAULTED.match(text)
    return match.group(2) + match.group(3) if match else text


def mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(source, container path, is_bind) of each volume entry, variables at their defaults."""
    found = []
    for entry in service.get("volumes", []):
        source, target, *_ = default_value(entry).split(":")
        found.append((source, target, source.startswith((".", "/"))))
    return found


def resolve(service: dict[str, Any], root: Path, container_path: str) -> tuple[str, str] | None:
    """Where a container path comes from: ("bind", host path) or ("volume", name); None if not mounted."""
    path = PurePosixPath(container_path)
    best = None
    for source, target, is_bind in mounts(service):
        if path == PurePosixPath(target) or PurePosixPath(target) in path.parents:
            if best is None or len(target) > len(best[1]):
                best = (source, target, is_bind)
    if best is None:
        return None
    source, target, is_bind = best
    if not is_bind:
        return ("volume", source)
    return ("bind", str(root / source / path.relative_to(target)))


def is_hashwatch(service: dict[str, Any]) -> bool:
    return service.get("image", "").split(":")[0] == "hashwatch"


def image_problems(compose: dict[str, Any], version: str) -> list[str]:
    problems = []
    for name, service in compose["services"].items():
        image = service.get("image")
        if not image:
            problems.append(f"{name}: no image")
            continue
        repository, _, tag = image.rpartition(":") if ":" in image else (image, "", "")
        if not VERSION_TAG.match(tag):
            problems.append(f"{name}: image {image} is not pinned to an exact version")
        if repository == "hashwatch" and (tag != version or "build" not in service):
            problems.append(f"{name}: the hashwatch image must be built here and tagged {version}, got {image}")
    return problems


def healthcheck_problems(compose: dict[str, Any]) -> list[str]:
    problems = []
    services = compose["services"]
    for name, service in services.items():
        if name in ONE_SHOT:
            if service.get("restart") != "no":
                problems.append(f"{name}: a one-shot job must not restart")
            continue
        test = service.get("healthcheck", {}).get("test")
        if not test or service["healthcheck"].get("disable"):
            problems.append(f"{name}: no healthcheck")
    for name, service in services.items():
        depends = service.get("depends_on", {})
        if isinstance(depends, list):
            depends = {dependency: {"condition": "service_started"} for dependency in depends}
        for dependency, how in depends.items():
            wanted = "service_completed_successfully" if dependency in ONE_SHOT else None
            if dependency not in services:
                problems.append(f"{name}: depends on unknown service {dependency}")
            elif wanted and how.get("condition") != wanted:
                problems.append(f"{name}: must wait for {dependency} with {wanted}")
    for job in ONE_SHOT:
        written = {source for source, _, is_bind in mounts(services[job]) if not is_bind}
        for name, service in services.items():
            shared = written & {source for source, _, is_bind in mounts(service) if not is_bind}
            if name != job and shared and job not in service.get("depends_on", {}):
                problems.append(f"{name}: mounts {', '.join(sorted(shared))}, written by {job}, without waiting for it")
    return problems


def user_problems(compose: dict[str, Any]) -> list[str]:
    problems = []
    for name, service in compose["services"].items():
        user = str(service.get("user", "")).split(":")[0]
        repository = service.get("image", "").split(":")[0]
        if user in ("0", "root"):
            problems.append(f"{name}: runs as root")
        elif not user and repository not in NON_ROOT_IMAGES:
            problems.append(f"{name}: no `user:` and {repository} is not known to run unprivileged")
    return problems


def bind_mount_problems(compose: dict[str, Any], root: Path) -> list[str]:
    problems = []
    for name, service in compose["services"].items():
        for source, target, is_bind in mounts(service):
            if is_bind and not (root / source).exists():
                problems.append(f"{name}: mounts {source}, which is not in the repository")
            if not is_bind and source not in (compose.get("volumes") or {}):
                problems.append(f"{name}: named volume {source} is not declared")
    return problems


def command_path_problems(compose: dict[str, Any], root: Path) -> list[str]:
    """Every file a hashwatch service is told about on its command line is mounted, and exists when bound."""
    problems = []
    for name, service in compose["services"].items():
        if not is_hashwatch(service):
            continue
        args = service.get("entrypoint", []) + service.get("command", [])
        paths = [a.split("=", 1)[1] if a.startswith("--") and "=" in a else a for a in args]
        for path in (p for p in paths if p.startswith("/")):
            where = resolve(service, root, path)
            if where is None:
                problems.append(f"{name}: {path} is not mounted into the container")
            elif where[0] == "bind" and not Path(where[1]).exists():
                problems.append(f"{name}: {path} is mounted from {where[1]}, which does not exist")
    return problems


def listen_port(service: dict[str, Any]) -> int | None:
    for arg in service.get("command", []):
        for flag in ("--web.listen-address=", "--listen=", "-httpListenAddr="):
            if arg.startswith(flag):
                return int(arg.rpartition(":")[2])
    return None


def port_problems(compose: dict[str, Any]) -> list[str]:
    """A hashwatch service publishes and health-checks the port it listens on."""
    problems = []
    for name, service in compose["services"].items():
        port = listen_port(service)
        if not is_hashwatch(service) or name in ONE_SHOT or "network_mode" in service:
            continue
        if port is None:
            problems.append(f"{name}: no --web.listen-address")
            continue
        if f"{port}:{port}" not in service.get("ports", []):
            problems.append(f"{name}: listens on {port} but publishes {service.get('ports')}")
        if f"127.0.0.1:{port}/" not in " ".join(service.get("healthcheck", {}).get("test", [])):
            problems.append(f"{name}: healthcheck does not ask port {port}")
    return problems


def service_named(compose: dict[str, Any], host: str) -> str | None:
    """The compose service a hostname reaches: its own name, or one of its network aliases."""
    services = compose["services"]
    if host in services:
        return host
    for name, service in services.items():
        networks = service.get("networks") or {}
        for network in (networks.values() if isinstance(networks, dict) else []):
            if host in ((network or {}).get("aliases") or []):
                return name
    return None


def container_port(compose: dict[str, Any], name: str) -> int | None:
    service = compose["services"].get(service_named(compose, name) or "")
    if service is None:
        return None
    port = listen_port(service)
    if port is not None:
        return port
    ports = service.get("ports", [])
    return int(str(ports[0]).rpartition(":")[2]) if ports else None


def url_problems(compose: dict[str, Any], urls: dict[str, str]) -> list[str]:
    """Each {where: url} names a compose service and the port that service listens on."""
    problems = []
    for where, url in urls.items():
        parts = urlsplit(url if "//" in url else f"http://{url}")
        port = container_port(compose, parts.hostname or "")
        if port is None:
            problems.append(f"{where}: {url} is not a compose service")
        elif parts.port != port:
            problems.append(f"{where}: {url}, but {parts.hostname} listens on {port}")
    return problems


def dockerfile_problems(text: str) -> list[str]:
    problems = []
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["FROM"]:
            image = words[1]
            if not VERSION_TAG.match(image.rpartition(":")[2].split("-")[0]):
                problems.append(f"FROM {image} is not pinned to an exact version")
    users = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    if not users:
        problems.append("the Dockerfile never sets USER: the image runs as root")
    elif users[-1].split(":")[0] in ("root", "0"):
        problems.append(f"the image runs as {users[-1]}")
    return problems


def dockerfile_uid(text: str) -> str | None:
    match = re.search(r"^ARG HASHWATCH_UID=(\d+)$", text, re.M)
    return match.group(1) if match else None


# ---------------------------------------------------------------- the scale-out profile


def flag_values(args: list[str], flag: str) -> list[str]:
    """Values of `flag=value` arguments, in order (`-notifier.url` may be given twice)."""
    return [arg.split("=", 1)[1] for arg in args if arg.startswith(f"{flag}=")]


def read_flags_file(path: Path) -> list[str]:
    """One flag a line; blank lines and # comments ignored (prometheus/scale-out/vmalert.flags)."""
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]


def in_profile(compose: dict[str, Any], profile: str) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if profile in (s.get("profiles") or [])}


def _alertmanagers(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose["services"].items() if s.get("image", "").startswith("prom/alertmanager:")}


def gossip_problems(compose: dict[str, Any]) -> list[str]:
    """Every Alertmanager gossips, and peers by compose name with every other one on its gossip port."""
    members = _alertmanagers(compose)
    gossip = {}
    for name, service in members.items():
        listen = flag_values(service.get("command", []), "--cluster.listen-address")
        if listen and listen[-1]:
            gossip[name] = int(listen[-1].rpartition(":")[2])
    problems = [f"{name}: no gossip (--cluster.listen-address)" for name in members if name not in gossip and len(members) > 1]
    for name in gossip:
        reached = set()
        for peer in flag_values(members[name].get("command", []), "--cluster.peer"):
            host, _, port = peer.rpartition(":")
            other = service_named(compose, host)
            if other not in gossip or other == name:
                problems.append(f"{name}: peer {peer} is not another Alertmanager of this file")
            elif int(port) != gossip[other]:
                problems.append(f"{name}: peer {peer}, but {other} gossips on {gossip[other]}")
            else:
                reached.add(other)
        if missing := set(gossip) - {name} - reached:
            problems.append(f"{name}: does not peer with {', '.join(sorted(missing))}")
    return problems


def notifier_problems(compose: dict[str, Any], who: str, urls: list[str]) -> list[str]:
    """`urls` reach every Alertmanager of the file, each directly (never one address for several)."""
    problems = url_problems(compose, {f"{who} notifier {i}": url for i, url in enumerate(urls)})
    reached = [service_named(compose, urlsplit(url).hostname or "") for url in urls]
    if missing := set(_alertmanagers(compose)) - set(reached):
        problems.append(f"{who}: sends to no {', '.join(sorted(missing))}")
    return problems


def shard_problems(compose: dict[str, Any], root: Path, profile: str = "scale-out") -> list[str]:
    """The profile's Prometheus shards: configs mounted and existing, no rules, remote_write and scrape
    targets naming compose services, and the miners job's hashmod keeps covering each bucket exactly once."""
    problems, buckets, moduli = [], Counter(), set()
    shards = {n: s for n, s in in_profile(compose, profile).items() if s.get("image", "").startswith("prom/prometheus:")}
    if not shards:
        return [f"profile {profile}: no Prometheus shards"]
    for name, service in shards.items():
        config_path = (flag_values(service.get("command", []), "--config.file") or ["(none)"])[-1]
        where = resolve(service, root, config_path)
        if where is None or where[0] != "bind" or not Path(where[1]).is_file():
            problems.append(f"{name}: --config.file {config_path} is not a mounted file of the repository")
            continue
        config = yaml.safe_load(Path(where[1]).read_text())
        if config.get("rule_files"):
            problems.append(f"{name}: evaluates rules; a shard sees only its part of the fleet")
        writes = [w["url"] for w in config.get("remote_write", [])]
        if not writes:
            problems.append(f"{name}: no remote_write")
        urls = {f"{name} remote_write {i}": url for i, url in enumerate(writes)}
        for job in config.get("scrape_configs", []):
            for static in job.get("static_configs", []):
                urls.update({f"{name} job {job['job_name']} {t}": t for t in static["targets"]})
            for relabel in job.get("relabel_configs", []):
                if relabel.get("target_label") == "__address__":
                    urls[f"{name} job {job['job_name']} /probe"] = relabel["replacement"]
                if relabel.get("action") == "hashmod":
                    moduli.add(relabel["modulus"])
                    keep = [r for r in job["relabel_configs"] if r.get("action") == "keep"
                            and r.get("source_labels") == [relabel["target_label"]]]
                    buckets.update(int(r["regex"]) for r in keep)
            for sd in job.get("file_sd_configs", []):
                for pattern in sd["files"]:
                    found = resolve(service, root, pattern)
                    if found is None or found[0] != "bind" or not Path(found[1]).parent.is_dir():
                        problems.append(f"{name}: file_sd {pattern} is not mounted from the repository")
        problems += url_problems(compose, urls)
    if len(moduli) != 1 or buckets != Counter(range(next(iter(moduli), 0))):
        problems.append(f"hashmod modulus {sorted(moduli)}, buckets kept {dict(buckets)}: not each miner exactly once")
    return problems


def vmalert_problems(compose: dict[str, Any], root: Path, flags_file: Path) -> list[str]:
    """vmalert runs the committed flags, reads mounted rules, queries and writes compose services, and
    notifies every Alertmanager directly."""
    service = compose["services"].get("vmalert")
    if service is None:
        return ["no vmalert service"]
    args = service.get("command", [])
    problems = [] if args == read_flags_file(flags_file) else [f"vmalert: command differs from {flags_file.name}"]
    for pattern in flag_values(args, "-rule"):
        where = resolve(service, root, pattern)
        if where is None or where[0] != "bind" or not list(Path(where[1]).parent.glob(Path(where[1]).name)):
            problems.append(f"vmalert: -rule {pattern} matches no mounted file")
    urls = {flag: value for flag in ("-datasource.url", "-remoteWrite.url", "-remoteRead.url")
            for value in flag_values(args, flag)}
    problems += url_problems(compose, urls)
    return problems + notifier_problems(compose, "vmalert", flag_values(args, "-notifier.url"))
