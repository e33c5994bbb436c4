"""Run promtool (Debian package `prometheus`) from tests."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def promtool_path() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: run ./scripts/setup (installs Debian's prometheus package)")
    return path


def check_metrics(exposition: bytes) -> str:
    """promtool's lint findings for an exposition ('' when clean)."""
    done = subprocess.run(
        [promtool_path(), "check", "metrics"], input=exposition, capture_output=True, timeout=60
    )
    findings = (done.stdout + done.stderr).decode().strip()
    if done.returncode not in (0, 3) and not findings:
        findings = f"promtool exited {done.returncode}"
    return findings


def check_config(path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [promtool_path(), "check", "config", "--syntax-only", str(path)], capture_output=True, text=True, timeout=60
    )
