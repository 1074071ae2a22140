"""A small sample federation for the catalogue tests: three nodes, datasets described
field by field and in the operator's own Turtle, public, protected and private ones,
facts with small values that must never be published."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hyperfed.adapters.disclosure import Policy
from hyperfed.adapters.facts import ExactFacts, protect_facts
from hyperfed.catalog import (
    Agent,
    ContactPoint,
    CustomLicence,
    DatasetDescription,
    DatasetEntry,
    DatasetRdf,
    Distribution,
    NodeInfo,
    NodePublication,
)

K = 10
NODE_POLICY = Policy(threshold=K, rounding=10, epsilon=0.5)
SECRET = b"catalogue-test-secret-0123456789abcdef"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"


@dataclass(frozen=True)
class Expected:
    node: str
    id: str
    title: str
    visibility: str


def exact(seed: int, *, imaging: bool = False) -> ExactFacts:
    """Deterministic exact facts with a few small cells (< K) that must stay hidden."""
    ages = {a: (seed + a) % 7 + 1 for a in range(18, 91)}
    ages[3] = 2  # a lone child: band 0-4 has 2 persons
    return ExactFacts(
        persons=400 + 37 * seed,
        records=(900 if imaging else 5000) + 11 * seed,
        record_kind="studies" if imaging else "visits",
        as_of=dt.date(2024, 6, 30),
        persons_by_age=ages,
        persons_by_sex={"female": 210 + seed, "male": 180 + seed, "other": 3},
        persons_by_year={2010 + i: 60 + i for i in range(12)} | {1998: 2},
        coding_systems={SNOMED: 390, ICD10: 4},
        code_values={(SNOMED, "363358000"): 41 + seed, (SNOMED, "254637007"): 6},
        facets=(
            {
                "modality": {"CT": 120, "MR": 3, "PT": 44},
                "body_part": {"CHEST": 150, "HEAD": 8},
                "manufacturer": {"SIEMENS": 90, "ACME-ONE-OFF": 1},
            }
            if imaging
            else {"condition": {"lung cancer": 55, "rare thing": 2}}
        ),
        health_categories=("EHRS",) if not imaging else ("EHRS", "MIDI"),
    )


RDF_DATASET = """
@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix vcard: <http://www.w3.org/2006/vcard/ns#> .
@prefix healthdcatap: <http://healthdataportal.eu/ns/health#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

<https://data.site-b.example/dataset/registry-2020> a dcat:Dataset ;
    dct:title "Site B cancer registry extract"@en ;
    dct:description "Registry of cancer diagnoses at Site B, 2010-2021."@en ;
    dct:identifier "site-b-registry-2020" ;
    dct:publisher [ a foaf:Agent ; foaf:name "Site B Cancer Registry"@en ] ;
    dcat:contactPoint [ a vcard:Kind ; vcard:fn "Registry desk" ;
                        vcard:hasEmail <mailto:registry@site-b.example> ] ;
    dcat:theme <http://publications.europa.eu/resource/authority/data-theme/HEAL> ;
    dct:accessRights <http://publications.europa.eu/resource/authority/access-right/RESTRICTED> ;
    dct:license <http://publications.europa.eu/resource/authority/licence/CC_BY_4_0> ;
    dcat:keyword "registry"@en, "oncology"@en ;
    healthdcatap:healthCategory <http://13.81.34.152:1101/resource/authority/healthcategories/EHRS>;
    healthdcatap:numberOfUniqueIndividuals "7"^^xsd:nonNegativeInteger ;
    dct:issued "2021-03-01"^^xsd:date ;
    dcat:distribution <https://data.site-b.example/dataset/registry-2020/csv> .

<https://data.site-b.example/dataset/registry-2020/csv> a dcat:Distribution ;
    dct:title "CSV extract (on request)"@en ;
    dcat:accessURL <https://data.site-b.example/request> ;
    dcat:mediaType <http://www.iana.org/assignments/media-types/text/csv> .
"""


def _site_a() -> NodePublication:
    node = NodeInfo(
        id="site-a",
        title="Site A University Hospital",
        publisher=Agent(name="Site A University Hospital", url="https://site-a.example"),
        contact=ContactPoint(name="Site A data office", email="data@site-a.example"),
        homepage="https://site-a.example",
    )
    datasets = []
    for i in range(6):
        visibility = "private" if i == 5 else ("protected" if i == 4 else "public")
        d = DatasetDescription(
            id=f"cohort-{i}",
            title=f"Site A cohort {i}",
            description=f"Patients of Site A, cohort {i} (OMOP CDM 5.4).",
            visibility=visibility,
            keywords=["oncology", "OMOP"],
            licence="CC-BY-4.0"
            if i % 2 == 0
            else CustomLicence(
                title="Use within the federation, attribution required",
                url="https://site-a.example/terms/data-use",
            ),
            doi=f"10.5072/site-a-cohort-{i}" if i < 3 else None,
            citation="Site A (2024). Cohort 0. doi:10.5072/site-a-cohort-0" if i == 0 else None,
            conforms_to=["https://ohdsi.github.io/CommonDataModel/cdm54.html"],
            health_categories=["EHRS"],
            issued=dt.date(2023, 1, 1 + i),
            distributions=[
                Distribution(
                    id="portal",
                    title="Request portal",
                    access_url="https://site-a.example/request",
                    media_type="text/html",
                )
            ]
            if i == 1
            else [],
        )
        facts = protect_facts(exact(i), NODE_POLICY, SECRET, d.id)
        datasets.append(DatasetEntry(description=d, facts=facts))
    return NodePublication(node=node, datasets=datasets)


def _site_b() -> NodePublication:
    node = NodeInfo(
        id="site-b",
        title="Site B Regional Clinic",
        contact=ContactPoint(name="Site B office", email="office@site-b.example"),
    )
    rdf = DatasetRdf(id="registry", rdf=RDF_DATASET, visibility="public")
    fields = DatasetDescription(
        id="ehr",
        title="Site B electronic health records",
        description="EHR extract of Site B.",
        health_categories=["EHRS"],
        licence="CC0-1.0",
    )
    secret = DatasetDescription(
        id="hidden-study",
        title="Site B hidden study PRIVATE-MARKER",
        description="Not for the public catalogue.",
        visibility="private",
        health_categories=["EHRS"],
    )
    return NodePublication(
        node=node,
        datasets=[
            DatasetEntry(
                description=rdf, facts=protect_facts(exact(7), NODE_POLICY, SECRET, "registry")
            ),
            DatasetEntry(
                description=fields, facts=protect_facts(exact(8), NODE_POLICY, SECRET, "ehr")
            ),
            DatasetEntry(description=secret),
        ],
    )


def _imaging() -> NodePublication:
    node = NodeInfo(
        id="imaging-c",
        title="Imaging Centre C",
        publisher=Agent(name="Imaging Centre C"),
        contact=ContactPoint(name="PACS team", url="https://imaging-c.example/contact"),
        model="dicom",
    )
    datasets = []
    for i, title in enumerate(["Lung CT screening", "Brain MR archive"]):
        d = DatasetDescription(
            id=f"img-{i}",
            title=title,
            description=f"{title} (DICOM).",
            themes=["HEAL", "TECH"],
            health_categories=["MIDI"],
            licence="CC-BY-NC-4.0",
            access_rights="RESTRICTED",
        )
        facts = protect_facts(exact(10 + i, imaging=True), NODE_POLICY, SECRET, d.id)
        datasets.append(DatasetEntry(description=d, facts=facts))
    return NodePublication(node=node, datasets=datasets)


def federation() -> list[NodePublication]:
    return [_site_a(), _site_b(), _imaging()]


def expected(pubs: list[NodePublication]) -> list[Expected]:
    """What each publication says, read straight from the input (not from the catalogue)."""
    out = []
    for pub in pubs:
        for entry in pub.datasets:
            d = entry.description
            title = (
                d.title if isinstance(d, DatasetDescription) else "Site B cancer registry extract"
            )
            out.append(Expected(pub.node.id, d.id, title, d.visibility))
    return out
