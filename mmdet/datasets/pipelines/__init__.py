from .compose import Compose
from .formatting import (
    Collect,
    DefaultFormatBundle,
    ImageToTensor,
    ToDataContainer,
    ToTensor,
    Transpose,
    WrapFieldsToLists,
    to_tensor,
)
from .loading import (
    FilterAnnotations,
    LoadAnnotations,
    LoadImageFromFile,
    LoadImageFromWebcam,
    LoadPanopticAnnotations,
    LoadProposals,
)
from .test_time_aug import MultiScaleFlipAug
from .transforms import Normalize, Pad, RandomFlip, Resize

__all__ = [
    'Collect',
    'Compose',
    'DefaultFormatBundle',
    'FilterAnnotations',
    'ImageToTensor',
    'LoadAnnotations',
    'LoadPanopticAnnotations',
    'LoadImageFromFile',
    'LoadImageFromWebcam',
    'LoadProposals',
    'MultiScaleFlipAug',
    'Normalize',
    'Pad',
    'RandomFlip',
    'Resize',
    'ToDataContainer',
    'ToTensor',
    'Transpose',
    'WrapFieldsToLists',
    'to_tensor',
]
