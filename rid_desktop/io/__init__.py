"""Image I/O: decode any photo to upright sRGB floats, write protected copies safely.

Shapes: ``LoadedImage.rgb`` is (H, W, 3) float32 in [0, 1]; :func:`to_tensor` gives (1, 3, H, W).
"""

from rid_desktop.errors import UnsupportedImageError
from rid_desktop.io.formats import SUPPORTED_SUFFIXES, register_heif
from rid_desktop.io.loader import LoadedImage, decode_image, load_image, read_image_bytes, to_tensor
from rid_desktop.io.writer import atomic_write_bytes, output_path_for, save_protected

__all__ = [
    "SUPPORTED_SUFFIXES",
    "LoadedImage",
    "UnsupportedImageError",
    "atomic_write_bytes",
    "decode_image",
    "load_image",
    "output_path_for",
    "read_image_bytes",
    "register_heif",
    "save_protected",
    "to_tensor",
]
