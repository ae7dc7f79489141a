"""Plugin layers MMDetection adds to mmcv's ``PLUGIN_LAYERS``."""

from .dropblock import DropBlock
from .msdeformattn_pixel_decoder import MSDeformAttnPixelDecoder
from .pixel_decoder import PixelDecoder, TransformerEncoderPixelDecoder

__all__ = [
    'DropBlock',
    'MSDeformAttnPixelDecoder',
    'PixelDecoder',
    'TransformerEncoderPixelDecoder',
]
