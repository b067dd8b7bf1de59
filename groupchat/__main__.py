from __future__ import annotations

import sys

from groupchat.app.cli import main

sys.exit(main())
