"""Runs inside a throwaway venv with CKAN and ckanext-dcat: ckanext-dcat's own RDFParser
(profiles euro_dcat_ap_3 + euro_health_dcat_ap) on each page it is sent.

Protocol: one JSON object per line on stdin, {"content": ..., "content_type": ...};
one JSON object per line on stdout, {"next": <RDFParser.next_page()>, "datasets": [...]}
or {"error": "..."}. Not imported by the test suite itself (it needs ckan)."""

import json
import sys

from ckanext.dcat.processors import RDFParser


def main() -> None:
    for line in sys.stdin:
        page = json.loads(line)
        try:
            parser = RDFParser(profiles=["euro_dcat_ap_3", "euro_health_dcat_ap"])
            parser.parse(page["content"], _format=page["content_type"])
            out = {"next": parser.next_page(), "datasets": list(parser.datasets())}
        except Exception as exc:  # reported to the test
            out = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(out, default=str) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
