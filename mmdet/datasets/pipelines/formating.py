"""Old module name (MMDetection < 2.25 spelled it this way)."""

import warnings

from .formatting import *  # noqa: F401,F403

warnings.warn(
    'mmdet.datasets.pipelines.formating is deprecated, use '
    'mmdet.datasets.pipelines.formatting'
)
