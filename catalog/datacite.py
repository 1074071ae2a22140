"""A dataset's DataCite metadata (Metadata Schema 4.5, as the DataCite REST API takes it
in ``POST /dois``), so an operator can mint or update a DOI with their own account:

    curl -s https://hub.example.eu/catalog/site-a/dataset/onco/datacite > onco.json
    # set data.attributes.doi (or "prefix") and "event": "publish", then
    curl -X POST -H 'Content-Type: application/vnd.api+json' -u REPO:PASS \\
         --data @onco.json https://api.datacite.org/dois

Made from the served RDF, so datasets described field by field and datasets described in
the operator's own RDF export the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hyperfed.catalog.html import DocIndex
from hyperfed.catalog.vocab import ADMS, DCAT, DCT, FOAF, SKOS, VCARD

__all__ = ["datacite"]


def datacite(lines: Sequence[bytes], iri: str) -> dict[str, Any]:
    """The DataCite JSON:API document of dataset `iri` from its record `lines`."""
    doc = DocIndex(lines)
    lang = next(
        (o.language for o in doc.values(iri, DCT.title) if getattr(o, "language", None)), None
    )
    attributes: dict[str, Any] = {
        "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Health dataset"},
        "url": iri,
        "schemaVersion": "http://datacite.org/schema/kernel-4",
    }
    for ident in doc.iris(iri, ADMS.identifier):
        if ident.endswith("#doi"):
            attributes["doi"] = doc.text(ident, SKOS.notation)
    attributes["titles"] = [
        {"title": t, **({"lang": lang} if lang else {})} for t in doc.texts(iri, DCT.title)
    ]
    publishers = [doc.text(p, FOAF.name) for p in doc.iris(iri, DCT.publisher)]
    publisher = next((p for p in publishers if p), "")
    attributes["publisher"] = {"name": publisher}
    creators = [doc.text(c, FOAF.name) for c in doc.iris(iri, DCT.creator)]
    attributes["creators"] = [
        {"name": name, "nameType": "Organizational"} for name in (creators or [publisher]) if name
    ]
    issued = doc.text(iri, DCT.issued)
    modified = doc.text(iri, DCT.modified)
    if issued:
        attributes["publicationYear"] = int(issued[:4])
    attributes["dates"] = [
        {"date": value[:10], "dateType": kind}
        for value, kind in ((issued, "Issued"), (modified, "Updated"))
        if value
    ]
    attributes["descriptions"] = [
        {"description": t, "descriptionType": "Abstract", **({"lang": lang} if lang else {})}
        for t in doc.texts(iri, DCT.description)
    ]
    attributes["subjects"] = [{"subject": k} for k in doc.texts(iri, DCAT.keyword)] + [
        {"subject": doc.label(t), "valueUri": t} for t in doc.iris(iri, DCAT.theme)
    ]
    attributes["rightsList"] = [
        {"rights": doc.label(lic), "rightsUri": lic} for lic in doc.iris(iri, DCT.license)
    ] + [{"rights": doc.label(r), "rightsUri": r} for r in doc.iris(iri, DCT.accessRights)]
    version = doc.text(iri, DCAT.version)
    if version:
        attributes["version"] = version
    languages = doc.iris(iri, DCT.language)
    if languages:
        attributes["language"] = languages[0].rsplit("/", 1)[-1].lower()
    attributes["alternateIdentifiers"] = [
        {"alternateIdentifier": iri, "alternateIdentifierType": "URL"}
    ] + [
        {"alternateIdentifier": doc.text(i, SKOS.notation), "alternateIdentifierType": "Other"}
        for i in doc.iris(iri, ADMS.identifier)
        if not i.endswith("#doi") and doc.text(i, SKOS.notation)
    ]
    contributors = []
    for contact in doc.iris(iri, DCAT.contactPoint):
        name = doc.text(contact, VCARD.fn)
        if name:
            contributors.append(
                {"name": name, "nameType": "Organizational", "contributorType": "ContactPerson"}
            )
    if contributors:
        attributes["contributors"] = contributors
    media = sorted(
        {
            m.rsplit("/media-types/", 1)[-1]
            for d in doc.iris(iri, DCAT.distribution)
            for m in doc.iris(d, DCAT.mediaType)
        }
    )
    if media:
        attributes["formats"] = media
    citation = doc.text(iri, DCT.bibliographicCitation)
    if citation:
        attributes["descriptions"].append({"description": citation, "descriptionType": "Other"})
    return {"data": {"type": "dois", "attributes": attributes}}
