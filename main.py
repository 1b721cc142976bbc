"""Start the Deepfake Inspector window. No torch import here: the window shows first."""

import sys

if __name__ == "__main__":
    from app.core.memory import tune_allocator

    tune_allocator()  # before any thread or large buffer exists (app/core/memory.py)
    if "--self-test" in sys.argv[1:]:  # headless check of an installation (app/selftest.py)
        from app.selftest import main as self_test

        sys.exit(self_test(sys.argv[1:]))
    from app.ui.main import run

    sys.exit(run(sys.argv))
