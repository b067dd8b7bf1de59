from __future__ import annotations

import sys

from groupchat.cli import main

sys.exit(main())
