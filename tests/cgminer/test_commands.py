"""The read-only guarantee: privileged CGMiner commands can never be encoded."""

import json

import pytest

from exporters.cgminer.commands import READ_ONLY_COMMANDS, CommandNotAllowed, check_read_only, encode_request

PRIVILEGED = [
    "restart", "quit", "switchpool", "addpool", "removepool", "enablepool", "disablepool",
    "poolpriority", "poolquota", "ascset", "pgaset", "ascenable", "ascdisable", "pgaenable",
    "pgadisable", "save", "privileged", "setconfig", "zero", "debug", "hotplug", "failover-only",
    "pause", "resume", "reboot", "set_power_pct", "update_pools", "curtail", "profileset",
    "tempctrlset", "fanctrl", "logon", "logoff", "kill",
]


@pytest.mark.parametrize("command", PRIVILEGED)
def test_privileged_command_is_refused_before_encoding(command):
    assert command not in READ_ONLY_COMMANDS
    with pytest.raises(CommandNotAllowed):
        encode_request([command])
    # hidden inside a multi-command, or smuggled with a parameter
    with pytest.raises(CommandNotAllowed):
        encode_request(["summary", command])
    with pytest.raises(CommandNotAllowed):
        encode_request([f"summary+{command}"])
    with pytest.raises(CommandNotAllowed):
        encode_request([f"{command}|0"])


def test_read_only_commands_encode_as_cgminer_json():
    assert json.loads(encode_request(["summary"])) == {"command": "summary"}
    assert json.loads(encode_request(["summary", "pools", "stats"])) == {"command": "summary+pools+stats"}


def test_btminer_v2_commands_use_cmd_key_and_cannot_be_joined():
    assert json.loads(encode_request(["status"])) == {"cmd": "status"}
    with pytest.raises(CommandNotAllowed):
        encode_request(["status", "summary"])


def test_empty_and_non_string_commands_are_refused():
    with pytest.raises(CommandNotAllowed):
        check_read_only([])
    with pytest.raises(CommandNotAllowed):
        check_read_only([None])  # type: ignore[list-item]


def test_every_registered_parser_declares_only_read_only_commands():
    """Whatever a parser asks (required, optional or identity commands), encode_request would accept it."""
    from exporters.cgminer.firmware import PARSERS, parser_for
    from exporters.cgminer.firmware.detect import DETECTION_SEQUENCE

    assert parser_for("cgminer").name == "cgminer"

    assert set(DETECTION_SEQUENCE) <= READ_ONLY_COMMANDS
    assert {"antminer", "whatsminer", "avalon", "braiins", "vnish", "luxos", "cgminer"} <= set(PARSERS)
    for name, parser in PARSERS.items():
        declared = set(parser.commands + parser.optional_commands + parser.static_commands)
        assert declared <= READ_ONLY_COMMANDS, (name, declared - READ_ONLY_COMMANDS)
        for command in declared:
            encode_request((command,))
