"""``python -m trainplan.cli``: what the workflow's rules run."""

from trainplan.cli import main

raise SystemExit(main())
