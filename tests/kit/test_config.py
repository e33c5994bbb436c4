"""hashwatch.yml validation: wrong or unknown keys are clear errors naming file and key."""

import pytest

from hashwatch.config import ConfigError, load_config
from hashwatch.app.settings import HashwatchConfig


def write(tmp_path, text):
    path = tmp_path / "hashwatch.yml"
    path.write_text(text)
    return path


def test_defaults_without_a_file():
    config = load_config(HashwatchConfig, None)
    assert config.cgminer.default_port == 4028
    assert "10.0.0.0/8" in config.cgminer.allowed_targets
    assert config.cgminer.fleet.miners == []


def test_full_cgminer_section(tmp_path):
    path = write(
        tmp_path,
        """
cgminer:
  timeout_seconds: 3
  allowed_targets: [10.1.0.0/16]
  fleet:
    concurrency: 50
    miners:
      - target: 10.1.0.5
        labels: {site: north, rack: r1}
      - target: 10.1.0.6:4029
    file_sd: [/etc/hashwatch/miners/*.json]
""",
    )
    config = load_config(HashwatchConfig, path)
    assert config.cgminer.timeout_seconds == 3
    assert config.cgminer.fleet.miners[0].labels == {"site": "north", "rack": "r1"}
    assert config.cgminer.fleet.miners[1].target == "10.1.0.6:4029"


@pytest.mark.parametrize(
    "text, key, message",
    [
        ("cgminer:\n  timeout: 3\n", "cgminer.timeout", "unknown key"),
        ("cgminr:\n  timeout_seconds: 3\n", "cgminr", "unknown key"),
        ("cgminer:\n  fleet:\n    concurency: 3\n", "cgminer.fleet.concurency", "unknown key"),
        ("cgminer:\n  timeout_seconds: -1\n", "cgminer.timeout_seconds", "greater than 0"),
        ("cgminer:\n  allowed_targets: [10.0.0.0/33]\n", "cgminer.allowed_targets", "not a CIDR"),
        ("cgminer:\n  fleet:\n    miners: [{target: 'a:b:c:99999'}]\n", "cgminer.fleet.miners.0.target", "invalid"),
        ("cgminer:\n  fleet:\n    miners: [{target: '10.0.0.1', labels: {board: x}}]\n", "labels", "used by hashwatch"),
        ("cgminer:\n  fleet:\n    miners: [{target: '10.0.0.1', labels: {'bad-name': x}}]\n", "labels", "pattern"),
    ],
)
def test_bad_keys_and_values_name_the_file_and_key(tmp_path, text, key, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(HashwatchConfig, path)
    assert str(path) in str(error.value)
    assert key in str(error.value)
    assert message in str(error.value)


def test_not_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(HashwatchConfig, write(tmp_path, "cgminer: [\n"))
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(HashwatchConfig, tmp_path / "absent.yml")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(HashwatchConfig, write(tmp_path, "- a\n- b\n"))
