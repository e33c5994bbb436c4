"""`WebhookConfig`: the `webhook:` section of hashwatch.yml.

    webhook:
      listen: ":9895"
      db_path: /var/lib/hashwatch/webhook.db
      retention_days: 90
      max_body_bytes: 1048576
      auth:                      # absent: no authentication (a warning is logged)
        bearer_token_file: /etc/hashwatch/webhook-token   # or bearer_token_env: NAME
        # or: basic: {username: alertmanager, password_file: ... | password_env: NAME}

Secrets are never written in the file itself: they are read from a file or an
environment variable when the receiver starts (`resolve()`), so a missing file
or an unset variable stops it with a message naming the key. Forwarding and
remediation sections are added by their own modules, not here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, field_validator, model_validator


from hashwatch.config import ConfigError, ConfigSection
from hashwatch.ledger import LedgerConfig
from hashwatch.web import parse_listen_address

from .forward import ForwardConfig
from .remediation import RemediationConfig

MiB = 1024 * 1024


def _one_source(file: Path | None, env: str | None, what: str) -> None:
    if (file is None) == (env is None):
        raise ValueError(f"give the {what} as exactly one of {what}_file or {what}_env")


def _read_secret(file: Path | None, env: str | None, key: str) -> str:
    if file is not None:
        try:
            value = file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{key}_file: cannot read {file}: {exc.strerror or exc}") from None
        where = f"{key}_file ({file})"
    else:
        value = os.environ.get(env or "", "").strip()
        where = f"{key}_env (${env})"
    if not value:
        raise ConfigError(f"{where} is empty or unset")
    return value


class BasicAuth(ConfigSection):
    username: str = Field(min_length=1)
    password_file: Path | None = Field(None, strict=False)
    password_env: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _source(self) -> BasicAuth:
        _one_source(self.password_file, self.password_env, "password")
        return self


class AuthConfig(ConfigSection):
    """Bearer token (Alertmanager's `authorization: {credentials_file}`) or basic auth, not both."""

    bearer_token_file: Path | None = Field(None, strict=False)
    bearer_token_env: str | None = Field(None, min_length=1)
    basic: BasicAuth | None = None

    @model_validator(mode="after")
    def _scheme(self) -> AuthConfig:
        bearer = self.bearer_token_file is not None or self.bearer_token_env is not None
        if bearer == (self.basic is not None):
            raise ValueError("give exactly one of bearer_token_file / bearer_token_env, or basic")
        if bearer:
            _one_source(self.bearer_token_file, self.bearer_token_env, "bearer_token")
        return self


@dataclass(frozen=True)
class Credentials:
    """The secrets, read: a bearer token, or a username and password."""

    bearer_token: str | None = None
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never print a secret
        return f"Credentials(scheme={'bearer' if self.bearer_token else 'basic'})"


class WebhookConfig(ConfigSection):
    listen: str = ":9895"
    db_path: Path = Field(Path("hashwatch-webhook.db"), strict=False)
    retention_days: float = Field(90, gt=0)
    max_body_bytes: int = Field(MiB, ge=1024, le=64 * MiB)
    auth: AuthConfig | None = None
    forward: ForwardConfig = Field(default_factory=ForwardConfig)
    remediation: RemediationConfig = Field(default_factory=RemediationConfig)
    ledger: LedgerConfig | None = Field(None, description="mirror alert events into InfluxDB; off when not set")

    _ledger = field_validator("ledger")(lambda value: value.at("webhook.ledger") if value is not None else None)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_listen_address(value)
        return value

    def credentials(self) -> Credentials | None:
        """The secrets from their files or variables; ConfigError naming the key when one is missing."""
        auth = self.auth
        if auth is None:
            return None
        if auth.basic is None:
            token = _read_secret(auth.bearer_token_file, auth.bearer_token_env, "webhook.auth.bearer_token")
            return Credentials(bearer_token=token)
        basic = auth.basic
        password = _read_secret(basic.password_file, basic.password_env, "webhook.auth.basic.password")
        return Credentials(username=basic.username, password=password)
