"""Offline training and model-conversion tools (not imported by the app at runtime)."""
