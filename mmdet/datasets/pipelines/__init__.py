from .auto_augment import (
    AutoAugment,
    BrightnessTransform,
    ColorTransform,
    ContrastTransform,
    EqualizeTransform,
    Rotate,
    Shear,
    Translate,
)
from .center_crop_pad import RandomCenterCropPad
from .compose import Compose
from .crop import (
    CutOut,
    Expand,
    MinIoURandomCrop,
    RandomCrop,
    RandomShift,
    SegRescale,
)
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
    LoadMultiChannelImageFromFiles,
    LoadPanopticAnnotations,
    LoadProposals,
)
from .mix import CopyPaste, MixUp, Mosaic, RandomAffine
from .optional_augs import Albu, Corrupt, InstaBoost
from .photometric import PhotoMetricDistortion, YOLOXHSVRandomAug
from .test_time_aug import MultiScaleFlipAug
from .transforms import Normalize, Pad, RandomFlip, Resize

__all__ = [
    'Albu',
    'AutoAugment',
    'BrightnessTransform',
    'ColorTransform',
    'ContrastTransform',
    'CopyPaste',
    'Corrupt',
    'CutOut',
    'EqualizeTransform',
    'Expand',
    'InstaBoost',
    'MinIoURandomCrop',
    'MixUp',
    'Mosaic',
    'PhotoMetricDistortion',
    'RandomAffine',
    'RandomCenterCropPad',
    'RandomCrop',
    'RandomShift',
    'Rotate',
    'SegRescale',
    'Shear',
    'Translate',
    'YOLOXHSVRandomAug',
    'Collect',
    'Compose',
    'DefaultFormatBundle',
    'FilterAnnotations',
    'ImageToTensor',
    'LoadAnnotations',
    'LoadPanopticAnnotations',
    'LoadImageFromFile',
    'LoadImageFromWebcam',
    'LoadMultiChannelImageFromFiles',
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
