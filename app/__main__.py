"""`python -m app ...`: the command line."""

import sys

from app.core.memory import tune_allocator

tune_allocator()  # before any thread or large buffer exists (app/core/memory.py)

from app.cli import main  # noqa: E402

sys.exit(main())
