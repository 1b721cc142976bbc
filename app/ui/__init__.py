"""PySide6 user interface. Only this package imports Qt; the model runs in worker threads."""
