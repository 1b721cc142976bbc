"""Deepfake Inspector: offline face-deepfake detection with explanations."""

__version__ = "0.1.0"
