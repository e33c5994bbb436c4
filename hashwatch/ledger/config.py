"""`LedgerConfig`: where and how the ledger writes, as a section of hashwatch.yml.

The section sits wherever the service that records points puts it
(`profitability.ledger` for profitability); that service names the place with
`LedgerConfig.at(key)`, so errors about files (the token file, the spool
directory) name the key the operator wrote.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, SecretStr, model_validator

from hashwatch.config import ConfigError, ConfigSection

MiB = 1024 * 1024


class LedgerConfig(ConfigSection):
    """Where and how snapshots are written. `api: v2` needs org, bucket and a token;
    `api: v1` (InfluxDB 1.x) needs a database."""

    _key: str = PrivateAttr("ledger")  # where this section sits in hashwatch.yml, for error messages

    api: Literal["v2", "v1"] = "v2"
    url: str = Field(description="base URL of InfluxDB, e.g. http://influxdb:8086")
    # v2
    org: str | None = None
    bucket: str | None = None
    token: SecretStr | None = None
    token_file: Path | None = Field(None, strict=False, description="file holding the token (e.g. a mounted secret)")
    # v1
    database: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    retention_policy: str | None = None
    # common
    interval_seconds: float = Field(300, gt=0, le=86400, description="how often a snapshot is taken")
    spool_dir: Path = Field(strict=False, description="on-disk queue of batches not yet acknowledged by the server")
    spool_max_bytes: int = Field(64 * MiB, gt=0, description="spool bound; new data is refused beyond it")
    batch_size: int = Field(5000, gt=0, description="most points sent in one write request")
    timeout_seconds: float = Field(10, gt=0, le=300, description="for one write request")
    retry_initial_seconds: float = Field(1, gt=0, le=3600, description="first wait after a failed write; doubles")
    retry_max_seconds: float = Field(300, gt=0, le=86400, description="longest wait between write attempts")

    @model_validator(mode="after")
    def _check_api(self) -> LedgerConfig:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {self.url!r}")
        v2_keys = {"org": self.org, "bucket": self.bucket, "token": self.token, "token_file": self.token_file}
        v1_keys = {
            "database": self.database,
            "username": self.username,
            "password": self.password,
            "retention_policy": self.retention_policy,
        }
        if self.api == "v2":
            stray = [key for key, value in v1_keys.items() if value is not None]
            missing = [key for key in ("org", "bucket") if not v2_keys[key]]
            if stray:
                raise ValueError(f"api v2 does not use {', '.join(stray)} (those are for api v1)")
            if missing:
                raise ValueError(f"api v2 needs {' and '.join(missing)}")
            if (self.token is None) == (self.token_file is None):
                raise ValueError("api v2 needs exactly one of token or token_file")
        else:
            stray = [key for key, value in v2_keys.items() if value is not None]
            if stray:
                raise ValueError(f"api v1 does not use {', '.join(stray)} (those are for api v2)")
            if not self.database:
                raise ValueError("api v1 needs database")
            if (self.username is None) != (self.password is None):
                raise ValueError("username and password go together")
        return self

    def at(self, key: str) -> LedgerConfig:
        """This section, named by its dotted key in hashwatch.yml (e.g. "profitability.ledger") in errors."""
        named = self.model_copy()
        named._key = key
        return named

    @property
    def key(self) -> str:
        return self._key

    def read_token(self) -> str:
        """The v2 token, from token or token_file (surrounding whitespace stripped)."""
        if self.token is not None:
            return self.token.get_secret_value()
        key = f"{self._key}.token_file"
        if self.token_file is None:
            raise ConfigError(f"{self._key}: api v2 needs token or token_file")
        try:
            token = self.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{key}: cannot read {self.token_file}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{key}: {self.token_file} is not UTF-8 text") from None
        if not token:
            raise ConfigError(f"{key}: {self.token_file} is empty")
        if "\n" in token or "\r" in token:
            raise ConfigError(f"{key}: {self.token_file} holds more than one line; the token is one line")
        return token

    def check_files(self) -> None:
        """ConfigError naming the key unless token_file can be read and spool_dir written.

        Run by the command that writes, before it serves: these files need not exist
        where other services read the same hashwatch.yml.
        """
        if self.token_file is not None:
            self.read_token()
        key, directory = f"{self._key}.spool_dir", self.spool_dir
        try:
            if directory.exists() and not directory.is_dir():
                raise ConfigError(f"{key}: {directory} is not a directory")
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=directory):
                pass  # as root, only writing shows a read-only or virtual file system (/proc)
        except OSError as exc:
            raise ConfigError(f"{key}: cannot write to {directory}: {exc.strerror or exc}") from None
