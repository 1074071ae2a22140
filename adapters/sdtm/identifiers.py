"""Unexpected identifying data: column names that denote direct identifiers of a person, and
value patterns (e-mail addresses, phone numbers) in free text.

No SDTM variable is a direct identifier; a column named like a name, initials, an address, a
phone number or a national id is an export mistake. The loader drops such columns (they never
enter the node's tables) and reports them; the check scans free-text values for e-mail
addresses and phone numbers (RE2 patterns, run in DuckDB).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["EMAIL_RE2", "PHONE_RE2", "identifying_column", "scanned_column"]

_COLUMN_PATTERNS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    (
        "a person's name",
        re.compile(
            r"^(PAT|PT|SUBJ|PATIENT|FIRST|LAST|SUR|MAIDEN|GIVEN|FAMILY|FULL|F|L|MID|MIDDLE)?_?"
            r"(NAME|NAM|NAMES)$"
        ),
    ),
    ("initials", re.compile(r"^(PAT|PT|SUBJ|PATIENT)?_?(INIT|INITS|INITIAL|INITIALS)$")),
    (
        "an address",
        re.compile(
            r"^(ADDR|ADDRESS|ADDRESS\d|ADDR\d|STREET|STREETNO|HOUSENO|ZIP|ZIPCODE|POSTCODE|POSTAL|"
            r"POSTALCD|CITY|TOWN)$"
        ),
    ),
    ("a phone number", re.compile(r"^(PHONE|PHONENO|TEL|TELNO|TELEPHON|TELEPHONE|MOBILE|FAX)$")),
    ("an e-mail address", re.compile(r"^(EMAIL|E_MAIL|MAIL|EMAILADR)$")),
    (
        "a national or hospital id",
        re.compile(r"^(SSN|NHSNO|NHSNUM|MRN|NIN|PASSPORT|INSURNO|INSNO|PATID|HOSPNO|MEDRECNO)$"),
    ),
)

# Columns whose values are identifiers or codes by design: never scanned for phone numbers.
_ID_SUFFIXES: Final = ("SPID", "GRPID", "REFID", "LNKID", "LNKGRP", "DTC", "DUR", "ELTM", "TPT")
_ID_NAMES: Final = frozenset({
    "STUDYID", "USUBJID", "SUBJID", "SITEID", "INVID", "RELID", "IDVARVAL", "IDVAR", "QNAM",
    "DOMAIN", "RDOMAIN", "SPDEVID", "POOLID", "FOCID", "VISIT", "ARMCD", "ACTARMCD", "ETCD",
})  # fmt: skip

EMAIL_RE2: Final = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
# +49 30 1234567, (030) 123-4567, 030/1234567, 555-123-4567: a separator-grouped number of
# 9 or more digits; dates (2019-03-05) and study ids (01-701-1015) have too few digits per group.
PHONE_RE2: Final = (
    r"(^|[^0-9A-Za-z-])(\+[0-9]{1,3}[ .-]?)?(\([0-9]{2,5}\)[ .-]?|[0-9]{2,5}[ ./-])"
    r"[0-9]{3,4}[ .-]?[0-9]{3,5}($|[^0-9A-Za-z-])"
)


def identifying_column(name: str) -> str | None:
    """What a column name suggests it holds (`"a person's name"` ...), or None."""
    upper = name.strip().upper()
    for what, pattern in _COLUMN_PATTERNS:
        if pattern.match(upper):
            return what
    return None


def scanned_column(name: str) -> bool:
    """Whether a character column's values are scanned for e-mail addresses/phone numbers."""
    return name not in _ID_NAMES and not name.endswith(_ID_SUFFIXES)
