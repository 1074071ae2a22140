"""Node configuration: one TOML file written by the node operator.

    [node]
    id = "site-a"                      # how the hub names this node
    title = "Site A University Hospital"
    model = "omop"                     # omop (fhir, sdtm, dicom as they land)
    source = "duckdb:///srv/omop/site-a.duckdb"   # or postgresql://user@host/db
    schema = "cdm"                     # database schema of the CDM tables (optional)
    secret_file = "site-a.secret"      # noise secret; created (0600) when absent
    query_timeout = 30                 # seconds

    [policy]                           # disclosure control, applied before anything leaves
    threshold = 10                     # counts below are never released (0 included)
    rounding = 10                      # released counts are multiples of this
    epsilon = 0.5                      # Laplace noise; `epsilon = false` for none

    [adapter]                          # options of the model's adapter (its OPTIONS model)

    [hub]                              # this node's hub (optional: push, unsigned)
    mode = "push"                      # push: the hub calls us; pull: we poll the hub
    url = "https://hub.example.org"    # the hub's base URL (required for pull)
    public_key_file = "hub.pub.jwk"    # the hub's task key: take signed tasks only
    key_file = "site-a.key"            # this node's own Ed25519 key; created (0600) when absent
    audience = "hyperfed-hub"          # the hub's audience, in pull-mode node assertions

    [[datasets]]                       # each dataset, described for the FAIR catalogue
    id = "site-a-omop"
    title = "Site A oncology cohort (OMOP CDM 5.4)"
    description = "..."                # the title when left out
    licence = "CC-BY-4.0"              # ... every field of hyperfed.catalog.DatasetDescription,
                                       # or rdf_file = "own-dcat-ap.ttl" (see the README)

`[node]` may also say what the node's sub-catalogue says about it: `description`,
`publisher = {name, url}`, `contact = {name, email}`, `homepage`. Private datasets never
appear in `/capabilities` (which the hub shows publicly at `/nodes`).

With `[hub] public_key_file`, every `POST /count`, `GET /capabilities` and `GET /catalog`
must carry a task signed by that key for this node (`hyperfed.adapters.node.guard`); in
pull mode the node opens no port and long-polls `url` (`hyperfed.adapters.node.pull`).
`hyperfed node key` prints the public half of `key_file`, to register the node with.

Relative paths are relative to the config file. The secret may also come from the
environment variable named by `secret_env`. `schema` is a shorthand for the SQL models'
`[adapter] schema` option.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hyperfed.adapters.disclosure import Policy
from hyperfed.adapters.errors import AdapterError
from hyperfed.catalog.errors import DescriptionInvalid
from hyperfed.catalog.model import Agent, ContactPoint, DatasetDescription, DatasetRdf
from hyperfed.catalog.node import dataset_descriptions

if TYPE_CHECKING:
    from joserfc.jwk import OKPKey

__all__ = ["ConfigError", "HubLink", "NodeConfig", "NodeSettings", "load_node_config"]


MIN_SECRET_CHARS = 32


class ConfigError(AdapterError):
    """A node configuration file is missing or invalid (the message names the field)."""


class NodeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    title: str = ""
    model: str = "omop"
    source: str
    schema_: Annotated[str | None, Field(alias="schema")] = None
    secret_file: str | None = None
    secret_env: str | None = None
    query_timeout: Annotated[float, Field(gt=0, le=3600)] = 30.0
    description: str | None = None
    publisher: Agent | None = None
    contact: ContactPoint | None = None
    homepage: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = None
    catalog_cache: Annotated[float, Field(ge=0, le=7 * 86400)] = 3600.0
    """seconds the node keeps its computed catalogue publication (facts) before computing
    it again; 0: every request."""


class HubLink(BaseModel):
    """`[hub]`: how this node and its hub reach and trust each other."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: Annotated[str, Field(pattern=r"^https?://[^\s/]\S*$")] | None = None
    """the hub's base URL (http(s)://); required in pull mode."""
    public_key_file: Annotated[str, Field(min_length=1)] | None = None
    """the hub's task public key (a JWK JSON file); when set, only signed tasks are taken."""
    mode: Literal["push", "pull"] = "push"
    key_file: Annotated[str, Field(min_length=1)] | None = None
    """this node's own Ed25519 private JWK (default `<node id>.key`), made when absent."""
    audience: Annotated[str, Field(min_length=1)] = "hyperfed-hub"

    @model_validator(mode="after")
    def _pull_needs_url(self) -> HubLink:
        if self.mode == "pull" and self.url is None:
            raise ValueError('hub.url: required when mode = "pull" (the hub\'s base URL)')
        return self


class NodeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    node: NodeSettings
    policy: Policy = Policy()
    adapter: dict[str, Any] = {}
    datasets: list[DatasetDescription | DatasetRdf] = []
    hub: HubLink = HubLink()
    base_dir: Path = Path(".")

    def hub_public_key(self) -> OKPKey | None:
        """The hub's task key from `[hub] public_key_file` (None: unsigned requests are
        taken); `ConfigError` naming the file when it is missing or not a public JWK."""
        from hyperfed.adapters.node.trust import read_public_key

        if self.hub.public_key_file is None:
            return None
        path = self.base_dir / self.hub.public_key_file
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(f"hub.public_key_file: cannot read {path} ({reason})") from exc
        try:
            return read_public_key(text)
        except ValueError as exc:
            raise ConfigError(f"hub.public_key_file: {path}: {exc}") from exc

    def node_key_path(self) -> Path:
        return self.base_dir / (self.hub.key_file or f"{self.node.id}.key")

    def node_key(self) -> OKPKey:
        """This node's own Ed25519 key (`[hub] key_file`), created (mode 0600) when absent."""
        from hyperfed.adapters.node.trust import TaskRefused, load_or_create_key

        path = self.node_key_path()
        try:
            return load_or_create_key(path)
        except TaskRefused as exc:
            raise ConfigError(f"hub.key_file: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"hub.key_file: {path}: {exc.strerror or exc}") from exc

    def secret(self) -> bytes:
        if self.node.secret_env:
            value = os.environ.get(self.node.secret_env, "")
            if len(value) < MIN_SECRET_CHARS:
                raise ConfigError(
                    f"node.secret_env: variable {self.node.secret_env} must hold "
                    f"a secret of at least {MIN_SECRET_CHARS} characters"
                )
            return value.encode()
        path = self.base_dir / (self.node.secret_file or f"{self.node.id}.secret")
        if not path.exists():
            # written whole or not at all: a crash must not leave an empty (public) secret
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)  # fails if another process created it meanwhile
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        value = path.read_text().strip()
        if len(value) < MIN_SECRET_CHARS:
            raise ConfigError(
                f"{path}: the noise secret must have at least {MIN_SECRET_CHARS} characters"
            )
        return value.encode()

    def resolved_source(self) -> str:
        """The source with config-relative paths made absolute (the model decides what a
        path is in its sources)."""
        from hyperfed.adapters.registry import load_adapter_class

        return load_adapter_class(self.node.model).resolve_source(self.node.source, self.base_dir)

    def adapter_options(self) -> dict[str, Any]:
        """The options the adapter is opened with (`[adapter]`, and `schema`)."""
        from hyperfed.adapters.registry import load_adapter_class

        options = dict(self.adapter)
        if self.node.schema_ is not None:
            options.setdefault("schema", self.node.schema_)
        return load_adapter_class(self.node.model).OPTIONS.resolve_paths(options, self.base_dir)


def _with_description(entry: dict[str, Any]) -> dict[str, Any]:
    """A described dataset without a description (the minimal configs of before the
    catalogue) gets its title as description."""
    if "rdf" in entry or "rdf_file" in entry or "description" in entry or "title" not in entry:
        return entry
    return {**entry, "description": entry["title"]}


def load_node_config(path: Path) -> NodeConfig:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"node config not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    base_dir = path.parent.resolve()
    entries = data.get("datasets", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{path}: datasets: give each dataset as a [[datasets]] table")
    try:
        data["datasets"] = dataset_descriptions(
            [_with_description(e) for e in entries], base_dir, str(path)
        )
    except DescriptionInvalid as exc:
        raise ConfigError(str(exc)) from exc
    try:
        config = NodeConfig.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        message = first["msg"]
        if first["type"] == "value_error" and "error" in first.get("ctx", {}):
            message = str(first["ctx"]["error"])  # our own message, naming the field
            if message.startswith(f"{where}."):
                raise ConfigError(f"{path}: {message}") from exc
        raise ConfigError(f"{path}: {where}: {message}") from exc
    try:
        config.hub_public_key()  # a missing or broken hub key stops the node at once
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return config
