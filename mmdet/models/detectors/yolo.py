"""YOLOF and YOLOv3: single-stage detectors with nothing of their own."""

from ..builder import DETECTORS
from .single_stage import SingleStageDetector


class _PlainSingleStage(SingleStageDetector):
    """A :class:`SingleStageDetector` under a family's registry name."""

    def __init__(
        self,
        backbone,
        neck,
        bbox_head,
        train_cfg=None,
        test_cfg=None,
        pretrained=None,
        init_cfg=None,
    ):
        super().__init__(
            backbone,
            neck,
            bbox_head,
            train_cfg,
            test_cfg,
            pretrained,
            init_cfg,
        )


@DETECTORS.register_module()
class YOLOF(_PlainSingleStage):
    """YOLOF (Chen et al., 2021): see :class:`SingleStageDetector`."""


@DETECTORS.register_module()
class YOLOV3(_PlainSingleStage):
    """YOLOv3 (Redmon and Farhadi, 2018): see
    :class:`SingleStageDetector`."""
