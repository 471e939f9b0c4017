"""User-facing error types.

Every failure a person can cause (bad file, full disk, missing model) is raised as a `UserError`
subclass with a one-line message that the CLI, the manifest and the GUI show as-is — never a traceback.
"""


class UserError(Exception):
    """An error whose message is written for the person using the app."""


class UnsupportedImageError(UserError):
    """The file is not an image we can protect (corrupt, animated, too large, unknown format)."""


class OutputError(UserError):
    """The protected copy could not be written (read-only folder, disk full, ...)."""


class ModelError(UserError):
    """A model file is missing, damaged, has the wrong hash or an unexpected layout."""


class Cancelled(Exception):
    """Raised from a progress callback to stop work between tiles / optimisation steps."""
