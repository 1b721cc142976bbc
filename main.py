"""Start the Deepfake Inspector window. No torch import here: the window shows first."""

import sys

if __name__ == "__main__":
    from app.ui.main import run

    sys.exit(run(sys.argv))
