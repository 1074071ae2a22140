"""Entry point of a SPARQL worker process: ``python -m hyperfed.ontology._sparql_main``."""

import sys

from hyperfed.ontology.sparql_worker import main

if __name__ == "__main__":
    main(sys.argv)
