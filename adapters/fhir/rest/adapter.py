"""The FHIR adapter over a FHIR server's search API (``--source https://...``).

Opening reads the CapabilityStatement: the resource types and search parameters the server
declares decide which searches a query uses. Counting runs FHIR searches (`compiler`,
`run`); `explain` lists them. Codes are expanded here (an OMOP vocabulary export, option
`vocabulary`) unless the operator says the server does it (`server_below`).
"""

from __future__ import annotations

import datetime as dt

from hyperfed.adapters.base import ExactCount, NativeQuery
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.errors import SourceError
from hyperfed.adapters.facts import ExactFacts
from hyperfed.adapters.fhir.adapter import FhirAdapter, FhirOptions
from hyperfed.adapters.fhir.rest.client import FhirClient
from hyperfed.adapters.fhir.rest.compiler import ServerSearch, compile_rest
from hyperfed.adapters.fhir.rest.plan import REST_TYPES, RestQuery
from hyperfed.adapters.fhir.rest.run import Evaluator
from hyperfed.adapters.fhir.vocab import AthenaVocabulary
from hyperfed.adapters.hql.bindings import Bindings
from hyperfed.adapters.hql.model import Query

__all__ = ["FhirRestAdapter"]


class FhirRestAdapter(FhirAdapter):
    """`FhirAdapter` (same model, same options) whose source is a FHIR server."""

    def __init__(  # a FHIR server instead of a loaded store: FhirAdapter.__init__ not called
        self,
        client: FhirClient,
        server: ServerSearch,
        options: FhirOptions,
        vocab: AthenaVocabulary | None = None,
    ) -> None:
        self.client = client
        self.server = server
        self.opts = options
        self.vocab = vocab

    @classmethod
    def open(cls, source: str, opts: FhirOptions) -> FhirRestAdapter:
        client = FhirClient(
            source,
            timeout=opts.timeout,
            headers=dict(opts.headers),
            verify=opts.verify_tls,
            page_size=opts.page_size,
        )
        try:
            caps = client.capabilities()
            if "Patient" not in caps:
                raise SourceError(f"the FHIR server {source} does not serve Patient resources")
            types = tuple(t for t in REST_TYPES if t.resource in caps)
            vocab = cls.open_vocabulary(opts)
            below = opts.server_below and vocab is None  # the export's codes, when given
            server = ServerSearch(types, caps, opts.page_size, opts.codes_per_request, below)
        except BaseException:
            client.close()
            raise
        return cls(client, server, opts, vocab)

    def features(self) -> dict[str, bool]:
        features = self.declared_features()
        features["descendants"] = self.vocab is not None or self.opts.server_below
        return features

    def compile(
        self, query: Query, bindings: Bindings, deadline: Deadline | None = None
    ) -> NativeQuery:
        expansions = self.expansions(query, bindings, deadline)
        return compile_rest(
            query, bindings, self.features(), self.server, expansions, self.client.base, deadline
        )

    def run(self, native: NativeQuery, deadline: Deadline | None = None) -> ExactCount:
        assert isinstance(native, RestQuery)
        return Evaluator(self.client, native, deadline).count()

    def describe(self) -> list[str]:
        types = ", ".join(t.resource for t in self.server.types)
        lines = [f"FHIR server {self.client.base}: searches Patient and {types}"]
        lines.append(
            self.vocab.describe()
            if self.vocab is not None
            else "the server expands descendants (:below)"
            if self.opts.server_below
            else "no OMOP vocabulary export: descendants of codes are not included"
        )
        lines.append(
            "ImagingStudy.procedureCode has no FHIR R4 search parameter: studies are found by "
            "modality and series body site"
        )
        return lines

    def facts(
        self, dataset: str, as_of: dt.date, deadline: Deadline | None = None
    ) -> ExactFacts | None:
        """No facts over REST: they would need a search per code (see fhir.facts)."""
        return None

    def close(self) -> None:
        self.client.close()
        if self.vocab is not None:
            self.vocab.close()
