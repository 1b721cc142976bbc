"""Typed errors with messages a journalist can act on.

Every failure the user can cause (a bad file, a missing model) is one of these; anything else is a
bug and is reported as such by the front ends.
"""


class InspectorError(Exception):
    """Base class: `str(err)` is a plain-language message fit to show a user."""


class ImageLoadError(InspectorError):
    """The file could not be read as an image."""


class FileMissingError(ImageLoadError):
    pass


class EmptyFileError(ImageLoadError):
    pass


class UnsupportedFormatError(ImageLoadError):
    pass


class CorruptImageError(ImageLoadError):
    """Truncated or damaged image data."""


class ImageTooLargeError(ImageLoadError):
    """Refused: too many pixels (possible decompression bomb) or too large a file."""


class ModelError(InspectorError):
    """The detector's weights or model card are missing, damaged or untrained."""


class NoTrainedModelError(ModelError):
    pass
