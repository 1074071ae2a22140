"""Labels of the controlled-vocabulary terms the catalogue types (DCAT-AP asks every
skos:Concept for a skos:prefLabel), and ISO 639-1 -> EU language authority codes."""

from __future__ import annotations

__all__ = ["DATA_THEMES", "LANGUAGES", "MEDIA_TYPE_FILE_TYPES"]

DATA_THEMES = {
    "AGRI": "Agriculture, fisheries, forestry and food",
    "ECON": "Economy and finance",
    "EDUC": "Education, culture and sport",
    "ENER": "Energy",
    "ENVI": "Environment",
    "GOVE": "Government and public sector",
    "HEAL": "Health",
    "INTR": "International issues",
    "JUST": "Justice, legal system and public safety",
    "OP_DATPRO": "Provisional data",
    "REGI": "Regions and cities",
    "SOCI": "Population and society",
    "TECH": "Science and technology",
    "TRAN": "Transport",
}
"""The EU data-theme authority table (publications.europa.eu/resource/authority/data-theme)."""

LANGUAGES = {
    "bg": "BUL", "cs": "CES", "da": "DAN", "de": "DEU", "el": "ELL", "en": "ENG",
    "es": "SPA", "et": "EST", "fi": "FIN", "fr": "FRA", "ga": "GLE", "hr": "HRV",
    "hu": "HUN", "it": "ITA", "lt": "LIT", "lv": "LAV", "mt": "MLT", "nl": "NLD",
    "pl": "POL", "pt": "POR", "ro": "RON", "sk": "SLK", "sl": "SLV", "sv": "SWE",
    "no": "NOR", "nb": "NOB", "nn": "NNO", "is": "ISL", "ca": "CAT", "eu": "EUS",
    "gl": "GLG", "lb": "LTZ", "tr": "TUR", "uk": "UKR", "ru": "RUS", "ar": "ARA",
    "zh": "ZHO", "ja": "JPN",
}  # fmt: skip

MEDIA_TYPE_FILE_TYPES = {
    "application/json": "JSON",
    "application/ld+json": "JSON_LD",
    "text/csv": "CSV",
    "text/turtle": "RDF_TURTLE",
    "application/rdf+xml": "RDF_XML",
    "application/n-triples": "RDF_N_TRIPLES",
    "application/dicom": "DCM",
    "application/zip": "ZIP",
    "application/pdf": "PDF",
    "text/html": "HTML",
    "application/xml": "XML",
    "application/vnd.apache.parquet": "PARQUET",
}
"""IANA media type -> EU file-type code, for dct:format when only a media type is given."""
