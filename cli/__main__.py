"""``python -m simtlab.cli``: the same as the ``simtlab`` command."""

from simtlab.cli.main import main

raise SystemExit(main())
