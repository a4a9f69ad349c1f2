"""Errors raised by the vision library.

Every error carries one sentence a user can read (``str(err)`` / ``err.message``)
and a short machine ``code``. Arguments are passed to the base class so the
exceptions survive pickling across process boundaries (Celery).
"""


class VisionError(Exception):
    """Base class: a failure a user can be told about in words.

    Args:
        message: a complete sentence meant for the person who uploaded the file.
        code: a short stable identifier (``"invalid_image"``, ``"no_face"``, ...).
    """

    default_code = "vision_error"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message, code or self.default_code)
        self.message = message
        self.code = code or self.default_code

    def __str__(self) -> str:
        return self.message


class InvalidImageError(VisionError):
    """The bytes are not an image this library can decode (empty, truncated,
    not an image, unsupported format, or too many pixels)."""

    default_code = "invalid_image"


class NoFaceFoundError(VisionError):
    """No human face was found in an image where one was required."""

    default_code = "no_face"


class FaceQualityError(VisionError):
    """A face was found but is unusable for enrolment (several faces, too
    small, too blurry)."""

    default_code = "face_quality"


class WeightsMissingError(VisionError):
    """A model weights file is not on disk; the message names the file and
    where to put it (no network access at run time)."""

    default_code = "weights_missing"


class TrainingCancelled(VisionError):
    """``should_stop`` said so before there was a model to keep (while the
    backbone's features were being computed); what was computed so far stays
    cached for the next run."""

    default_code = "cancelled"
