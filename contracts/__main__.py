"""`python -m contracts snapshot|asyncapi|check`: see `contracts.tools`."""

from contracts.tools import main

raise SystemExit(main())
