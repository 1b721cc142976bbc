"""Native PyTorch network definitions (no Qt, no downloads)."""
