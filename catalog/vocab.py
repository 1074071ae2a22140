"""Namespaces and controlled vocabularies of the catalogue (DCAT-AP 3, HealthDCAT-AP, FDP)."""

from __future__ import annotations

from pyoxigraph import NamedNode

__all__ = [
    "ACCESS_RIGHT",
    "ACCESS_RIGHTS",
    "ADMS",
    "DATA_THEME",
    "DCAT",
    "DCATAP",
    "DCT",
    "DPV",
    "EHDS_LEGISLATION",
    "FDP",
    "FDP_SPEC",
    "FILE_TYPE",
    "FOAF",
    "HF",
    "HYDRA",
    "IANA",
    "LANGUAGE",
    "LDP",
    "LICENCE",
    "LICENCES",
    "OWL",
    "PROV",
    "RDF",
    "RDFS",
    "SKOS",
    "SPDX",
    "VCARD",
    "XSD",
    "Namespace",
    "prefixes",
]


class Namespace:
    """A namespace IRI; ``DCAT.Dataset`` is the pyoxigraph NamedNode of dcat:Dataset and
    ``DATA_THEME + "HEAL"`` the IRI string (not a str subclass: ``DCT.title`` must not
    be ``str.title``)."""

    __slots__ = ("iri",)

    def __init__(self, iri: str) -> None:
        self.iri = iri

    def __getattr__(self, local: str) -> NamedNode:
        if local.startswith("__"):
            raise AttributeError(local)
        return NamedNode(self.iri + local)

    def term(self, local: str) -> NamedNode:
        return NamedNode(self.iri + local)

    def __add__(self, local: str) -> str:
        return self.iri + local

    def __str__(self) -> str:
        return self.iri

    def __repr__(self) -> str:
        return f"Namespace({self.iri!r})"


RDF = Namespace("http://www.w3.org/1999/02/22-rdf-syntax-ns#")
RDFS = Namespace("http://www.w3.org/2000/01/rdf-schema#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
OWL = Namespace("http://www.w3.org/2002/07/owl#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
DCATAP = Namespace("http://data.europa.eu/r5r/")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
PROV = Namespace("http://www.w3.org/ns/prov#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
DPV = Namespace("https://w3id.org/dpv#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
LDP = Namespace("http://www.w3.org/ns/ldp#")
FDP = Namespace("https://w3id.org/fdp/fdp-o#")
HF = Namespace("https://w3id.org/hyperfed/catalog#")

# EU Publications Office authority tables (the vocabularies DCAT-AP names)
ACCESS_RIGHT = Namespace("http://publications.europa.eu/resource/authority/access-right/")
DATA_THEME = Namespace("http://publications.europa.eu/resource/authority/data-theme/")
FILE_TYPE = Namespace("http://publications.europa.eu/resource/authority/file-type/")
LANGUAGE = Namespace("http://publications.europa.eu/resource/authority/language/")
LICENCE = Namespace("http://publications.europa.eu/resource/authority/licence/")
IANA = Namespace("http://www.iana.org/assignments/media-types/")

ACCESS_RIGHTS = ("PUBLIC", "RESTRICTED", "NON_PUBLIC")
"""The EU access-right vocabulary (the three values HealthDCAT-AP distinguishes)."""

EHDS_LEGISLATION = "http://data.europa.eu/eli/reg/2025/327/oj"
"""Regulation (EU) 2025/327 (European Health Data Space), as HealthDCAT-AP asks for
``dcatap:applicableLegislation``."""

FDP_SPEC = "https://specs.fairdatapoint.org/fdp-specs-v1.2.html"

# Short names an operator may use for standard licences (SPDX ids) -> the EU licence
# authority table, which DCAT-AP recommends for dct:license.
LICENCES = {
    "CC0-1.0": LICENCE + "CC0",
    "CC-BY-4.0": LICENCE + "CC_BY_4_0",
    "CC-BY-SA-4.0": LICENCE + "CC_BYSA_4_0",
    "CC-BY-NC-4.0": LICENCE + "CC_BYNC_4_0",
    "CC-BY-NC-SA-4.0": LICENCE + "CC_BYNCSA_4_0",
    "CC-BY-ND-4.0": LICENCE + "CC_BYND_4_0",
    "CC-BY-NC-ND-4.0": LICENCE + "CC_BYNCND_4_0",
    "ODbL-1.0": LICENCE + "ODBL",
    "PDDL-1.0": LICENCE + "PDDL",
    "Apache-2.0": LICENCE + "APACHE_2_0",
    "MIT": LICENCE + "MIT",
}

_BASE_PREFIXES = {
    "rdf": RDF,
    "rdfs": RDFS,
    "xsd": XSD,
    "owl": OWL,
    "dcat": DCAT,
    "dct": DCT,
    "dcatap": DCATAP,
    "foaf": FOAF,
    "vcard": VCARD,
    "adms": ADMS,
    "skos": SKOS,
    "prov": PROV,
    "spdx": SPDX,
    "dpv": DPV,
    "hydra": HYDRA,
    "ldp": LDP,
    "fdp": FDP,
    "hfc": HF,
}


def prefixes(health_ns: str) -> dict[str, str]:
    """The prefixes used in every served document (``healthdcatap:`` is a setting)."""
    return {**{k: str(v) for k, v in _BASE_PREFIXES.items()}, "healthdcatap": health_ns}
