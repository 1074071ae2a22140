"""`python -m adapters.synth`: see `adapters.synth.cli`."""

from adapters.synth.cli import main

raise SystemExit(main())
