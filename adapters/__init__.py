"""Hyperfed adapters: everything that runs beside the data.

Package map::

    hql/          the common query AST (HQL v1), canonical form, open binding kinds
    base          the adapter contract (a template: count = compile + run; explain)
    compiler      the criterion-compiler base (dispatch, paths, bookkeeping, gating)
    features      capabilities: SUPPORTS_* constants and what they gate
    registry      data models by name (entry points `hyperfed.adapters`)
    deadline      the time a query has left; cache: thread-safe look-up cache
    sql/          the shared SQL toolkit: runners, information_schema catalogue, builders
    disclosure    small-cell disclosure control (the only way a count leaves a node)
    units         UCUM units and conversion; protocol: the hub <-> node wire format
    problems      problem+json (RFC 9457) for the hub's and the node's HTTP apps
    node/         the node service (config, protection, HTTP app, `hyperfed node` CLI)
    omop/         the OMOP CDM model (and fhir/, sdtm/, dicom/ as they land)

Errors::

    AdapterError                 (hyperfed.adapters.errors)
    ├── UnknownAdapter           no model of that name (lists the valid names)
    ├── SourceError              the data source cannot be opened or read, or lacks what
    │                            the model needs (names the source and the option)
    ├── QueryTimeout             the deadline passed (also a TimeoutError)
    └── ConfigError              a node configuration is missing or invalid (node.config)
    ProblemError                 an HTTP request the hub or a node refuses (problems)
    BindingError (ValueError)    an unknown binding kind, bindings that do not merge
    PolicyError (ValueError)     an invalid disclosure policy (disclosure)
    UnknownSystem, UnknownUnit   (ValueError) a code system or UCUM unit HQL does not know
"""

from hyperfed.adapters.errors import AdapterError, QueryTimeout, SourceError, UnknownAdapter

__all__ = ["AdapterError", "QueryTimeout", "SourceError", "UnknownAdapter"]
