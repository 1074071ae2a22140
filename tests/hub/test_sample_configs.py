"""The sample configuration files under deploy/config/ load as documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperfed.adapters.node.config import load_node_config
from hyperfed.catalog import DatasetDescription
from hyperfed.hub.settings import SettingsError, load_settings

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "config"


def test_sample_node_config_loads() -> None:
    config = load_node_config(CONFIG / "node.example.toml")
    assert config.node.id == "site-a" and config.node.schema_ == "cdm"
    assert config.policy.threshold == 10 and config.policy.epsilon == 0.5
    dataset = config.datasets[0]
    assert dataset.id == "site-a-omop" and dataset.visibility == "public"
    assert isinstance(dataset, DatasetDescription)
    assert dataset.licence == "CC-BY-4.0" and dataset.doi == "10.5072/site-a-omop"
    assert dataset.distributions[0].access_url == "https://site-a.example/request"
    assert config.node.contact is not None


def test_a_minimal_dataset_table_stays_valid(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text(
        '[node]\nid = "x"\nsource = "duckdb:///x.duckdb"\n\n'
        '[[datasets]]\nid = "x-omop"\ntitle = "X"\n\n'
        '[[datasets]]\nid = "x-two"\ntitle = "Two"\ndescription = "The second."\n'
    )
    datasets = load_node_config(path).datasets
    assert [(d.id, d.description) for d in datasets] == [  # type: ignore[union-attr]
        ("x-omop", "X"),
        ("x-two", "The second."),
    ]


def test_sample_hub_config_loads() -> None:
    settings = load_settings(CONFIG / "hub.example.toml")
    assert [n.id for n in settings.nodes] == ["site-a", "site-b", "site-c"]
    assert settings.nodes[1].deadline == 20.0 and settings.floor.threshold == 10
    pull = settings.nodes[2]
    assert pull.mode == "pull" and pull.public_key_file == CONFIG.resolve() / "site-c.pub.jwk"
    assert settings.identity.issuer == "https://hub.example.org"  # the catalogue's base URL
    assert [(q.limit, q.window) for q in settings.budgets.quotas] == [(3, 60), (50, 7 * 86400)]
    assert settings.signing.key_file == CONFIG.resolve() / "hub.key"
    assert settings.database == f"sqlite:///{CONFIG.resolve() / 'hub.db'}"
    assert settings.catalog.base_url == "https://hub.example.org"
    assert settings.catalog.store == CONFIG.resolve() / "catalog"


def test_noise_can_be_switched_off_in_toml(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text(
        '[node]\nid = "x"\nsource = "duckdb:///x.duckdb"\n\n[policy]\nepsilon = false\n'
    )
    assert load_node_config(path).policy.epsilon is None


@pytest.mark.parametrize(
    "toml",
    [
        '[identity]\nissuer = "http://hub.example.org"\n',
        '[catalog]\nbase_url = "http://hub.example.org"\n',  # the issuer defaults to it
    ],
)
def test_a_plain_http_issuer_off_this_machine_is_refused(tmp_path: Path, toml: str) -> None:
    path = tmp_path / "hub.toml"
    path.write_text(toml)
    with pytest.raises(SettingsError, match="must be https://"):
        load_settings(path)
    path.write_text('[catalog]\nbase_url = "http://127.0.0.1:8100"\n')
    assert load_settings(path).identity.issuer == "http://127.0.0.1:8100"
