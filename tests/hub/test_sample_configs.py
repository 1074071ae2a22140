"""The sample configuration files under deploy/config/ load as documented."""

from __future__ import annotations

from pathlib import Path

from hyperfed.adapters.node.config import load_node_config
from hyperfed.hub.settings import load_settings

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "config"


def test_sample_node_config_loads() -> None:
    config = load_node_config(CONFIG / "node.example.toml")
    assert config.node.id == "site-a" and config.node.schema_ == "cdm"
    assert config.policy.threshold == 10 and config.policy.epsilon == 0.5
    assert config.datasets[0].id == "site-a-omop"


def test_sample_hub_config_loads() -> None:
    settings = load_settings(CONFIG / "hub.example.toml")
    assert [n.id for n in settings.nodes] == ["site-a", "site-b"]
    assert settings.nodes[1].deadline == 20.0 and settings.floor.threshold == 10
    assert settings.database == f"sqlite:///{CONFIG.resolve() / 'hub.db'}"


def test_noise_can_be_switched_off_in_toml(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text(
        '[node]\nid = "x"\nsource = "duckdb:///x.duckdb"\n\n[policy]\nepsilon = false\n'
    )
    assert load_node_config(path).policy.epsilon is None
