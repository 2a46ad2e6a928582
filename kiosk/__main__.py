"""``python -m kiosk``: the ``kiosk`` command."""

import sys

from kiosk.app import main

sys.exit(main())
