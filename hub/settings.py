"""Hub settings: one pydantic-settings class, built at app creation and injected.

Read from a TOML file (`hyperfed hub serve --config hub.toml`) and the environment
(`HYPERFED_*`, e.g. HYPERFED_DEADLINE=5); the file wins over the environment.

    [hub]
    database = "sqlite:///hub.db"      # jobs and audit log (SQLAlchemy URL)
    deadline = 10.0                    # seconds a node has to answer
    ontology_files = []                # extra Turtle files, e.g. the full EUCAIM import

    [floor]                            # the federation's minimum disclosure policy
    threshold = 10
    rounding = 10

    [[nodes]]
    id = "site-a"
    url = "http://127.0.0.1:8101"
    model = "omop"
    title = "Site A"

    [identity]                         # sign-in (hyperfed.hub.auth.IdentitySettings)
    issuer = "https://hub.example.eu"  # the hub's public base URL
    [budgets]                          # per-researcher quotas (hyperfed.hub.budgets)
    quotas = [{ limit = 3, window = "1m" }, { limit = 50, window = "1w" }]
    [signing]
    key_file = "hub.key"               # the hub's Ed25519 task key (made when absent)

    [catalog]                          # the FAIR catalogue (hyperfed.catalog.CatalogSettings)
    base_url = "https://hub.example.eu"   # public base of every IRI: set it to the hub's URL
    store = "catalog"                  # Oxigraph folder (relative to this file); none: memory
    health_namespace = "http://healthdataportal.eu/ns/health#"
    refresh_interval = 3600            # seconds between refreshes of every node (0: once)
    sparql_timeout = 10                # also /ontology/sparql
    sparql_max_results = 10000
    fdp_index_url = "https://index.fairdatapoint.org"   # FDP index ping; off when absent

Every catalogue setting is in the README ("Hub configuration reference").
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hyperfed.adapters.disclosure import Policy
from hyperfed.catalog.settings import CatalogSettings
from hyperfed.hub.auth.setup import IdentitySettings
from hyperfed.hub.budgets import BudgetPolicy
from hyperfed.hub.errors import HubError

__all__ = ["HubSettings", "NodeEntry", "SettingsError", "SigningSettings", "load_settings"]


DEFAULT_BASE_URL = "http://127.0.0.1:8100"
"""the catalogue's base URL when none is configured: the hub's default local address."""


class SettingsError(HubError):
    """The hub configuration is missing or invalid (the message names the field)."""


class NodeEntry(BaseModel):
    """A node of the federation. `push` nodes are called at `url`; `pull` nodes connect
    outward only and fetch their tasks from the hub (they have no URL)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    url: str = ""
    model: str = "omop"
    title: str = ""
    deadline: Annotated[float | None, Field(gt=0, le=600)] = None
    mode: Literal["push", "pull"] = "push"
    public_key_file: Path | None = None
    """a pull node's public key (the JWK `hyperfed node key` prints), relative to the
    hub's config file: it signs the node's requests for tasks and its answers."""

    @model_validator(mode="after")
    def _url_for_push(self) -> NodeEntry:
        if self.mode == "push" and not re.match(r"^https?://", self.url):
            raise ValueError("url: a push node needs an http:// or https:// URL")
        return self


class SigningSettings(BaseModel):
    """`[signing]`: the hub's Ed25519 key that signs every task it sends to a node (nodes
    hold its public half: `hyperfed hub key`). None: a key for this process only (tests);
    a hub read from a file defaults to `hub.key` beside it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    """false: tasks go out unsigned (nodes that hold the hub's key refuse them; for closed
    test setups and the auth-off benchmark only)."""
    key_file: Path | None = None


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HYPERFED_", extra="forbid", frozen=True)

    database: str = "sqlite:///:memory:"
    deadline: Annotated[float, Field(gt=0, le=600)] = 10.0
    ontology_files: list[Path] = []
    floor: Policy = Policy()  # threshold 10, rounding 10, noise required
    nodes: list[NodeEntry] = []
    title: str = "Hyperfed hub"
    identity: IdentitySettings = IdentitySettings()
    """sign-in: the built-in issuer, external OIDC providers; `enabled = false` lets
    everyone do everything (closed test setups only)."""
    budgets: BudgetPolicy = BudgetPolicy()
    signing: SigningSettings = SigningSettings()
    catalog: CatalogSettings = CatalogSettings(base_url=DEFAULT_BASE_URL)
    """The FAIR catalogue; set `catalog.base_url` to the hub's public URL (every IRI of
    the catalogue is under it and must dereference)."""

    @model_validator(mode="after")
    def _issuer_is_the_hub(self) -> HubSettings:
        """The built-in issuer's URL is the hub's public URL: `catalog.base_url` when
        `identity.issuer` is not set."""
        if "issuer" not in self.identity.model_fields_set and (
            self.catalog.base_url.rstrip("/") != self.identity.issuer.rstrip("/")
        ):
            values = {**self.identity.model_dump(), "issuer": self.catalog.base_url.rstrip("/")}
            identity = IdentitySettings.model_validate(values)  # its checks apply too
            object.__setattr__(self, "identity", identity)
        return self

    @model_validator(mode="after")
    def _unique_nodes(self) -> HubSettings:
        ids = [n.id for n in self.nodes]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"node ids must be unique; listed more than once: {twice}")
        return self

    def node(self, node_id: str) -> NodeEntry | None:
        return next((n for n in self.nodes if n.id == node_id), None)


def load_settings(path: Path | None = None, **overrides: Any) -> HubSettings:
    data: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text())
        except FileNotFoundError as exc:
            raise SettingsError(f"hub config not found: {path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path}: invalid TOML: {exc}") from exc
        data.update(raw.pop("hub", {}))
        data.update(raw)
        base = path.parent.resolve()
        if "ontology_files" in data:
            data["ontology_files"] = [base / p for p in data["ontology_files"]]
        signing = data.setdefault("signing", {})
        if isinstance(signing, dict):
            signing["key_file"] = base / signing.get("key_file", "hub.key")
        for node in data.get("nodes", []):
            if isinstance(node, dict) and isinstance(node.get("public_key_file"), str):
                node["public_key_file"] = base / node["public_key_file"]
        catalog = data.get("catalog")
        if isinstance(catalog, dict):
            for key in ("store", "dcat_ap_shapes"):
                if isinstance(catalog.get(key), str):
                    catalog[key] = base / catalog[key]
        db = str(data.get("database", ""))
        if (
            db.startswith("sqlite:///")
            and not db.startswith("sqlite:////")
            and ":memory:" not in db
        ):
            data["database"] = f"sqlite:///{base / db[len('sqlite:///') :]}"
    data.update(overrides)
    try:
        return HubSettings(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise SettingsError(f"{path or 'settings'}: {where}: {first['msg']}") from exc
