"""Create the compose stack's secrets once, in the `secrets` volume: nothing secret is committed.

docker-compose.yml runs this in the one-shot `secrets` service before InfluxDB,
Grafana and the hashwatch services start:

    python make_secrets.py /run/hashwatch-secrets

Each file is written only if it does not exist yet, from the environment variable
of the same role when it is set (GRAFANA_ADMIN_PASSWORD, INFLUXDB_ADMIN_PASSWORD,
INFLUXDB_TOKEN, e.g. from an untracked .env), otherwise from 32 random bytes
(`secrets.token_urlsafe`). An existing file is never changed: InfluxDB and Grafana
read these only when they initialise their own empty volumes, so a later change
would leave them out of step (docs/docker.md, "Secrets", says how to rotate).
Files are mode 0640, owned by the hashwatch user; InfluxDB and Grafana read them
through that group. Standard library only: it runs in the hashwatch image.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

# file name -> environment variable that may supply it
SECRETS = {
    "grafana-admin-password": "GRAFANA_ADMIN_PASSWORD",
    "influxdb-admin-password": "INFLUXDB_ADMIN_PASSWORD",
    "influxdb-token": "INFLUXDB_TOKEN",
}
MIN_LENGTH = 12  # InfluxDB refuses passwords under 8 characters; a token this short is a mistake


def secret_value(variable: str, environ: dict[str, str]) -> str:
    """The variable's value when set (stripped, one line, at least MIN_LENGTH), else a random one."""
    given = environ.get(variable, "").strip()
    if not given:
        return secrets.token_urlsafe(32)
    if "\n" in given or len(given) < MIN_LENGTH:
        raise ValueError(f"{variable} must be one line of at least {MIN_LENGTH} characters")
    return given


def make_secrets(directory: Path, environ: dict[str, str]) -> list[str]:
    """Write the missing secret files; returns one line per file saying what happened."""
    report = []
    for name, variable in SECRETS.items():
        path = directory / name
        if path.exists():
            if not path.is_file() or not path.read_text(encoding="utf-8").strip():
                raise ValueError(f"{path} exists but is not a non-empty file; remove it to have it made again")
            report.append(f"{name}: kept")
            continue
        value = secret_value(variable, environ)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(value + "\n")
        os.chmod(path, 0o640)  # whatever the umask
        report.append(f"{name}: {'from $' + variable if environ.get(variable, '').strip() else 'generated'}")
    return report


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} DIRECTORY", file=sys.stderr)
        return 2
    directory = Path(argv[1])
    if not directory.is_dir():
        print(f"error: {directory} is not a directory", file=sys.stderr)
        return 2
    try:
        for line in make_secrets(directory, dict(os.environ)):
            print(line)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
