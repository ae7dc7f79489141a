"""Base of the heads that fuse instance and stuff predictions into one
panoptic map (pixel value ``label + instance_id * INSTANCE_OFFSET``)."""

from abc import ABCMeta, abstractmethod

from mmcv.runner import BaseModule

from ...builder import build_loss


class BasePanopticFusionHead(BaseModule, metaclass=ABCMeta):
    """Class counts, ``test_cfg`` and an optional ``loss_panoptic``."""

    def __init__(
        self,
        num_things_classes=80,
        num_stuff_classes=53,
        test_cfg=None,
        loss_panoptic=None,
        init_cfg=None,
        **kwargs,
    ):
        super().__init__(init_cfg)
        self.num_things_classes = num_things_classes
        self.num_stuff_classes = num_stuff_classes
        self.num_classes = num_things_classes + num_stuff_classes
        self.test_cfg = test_cfg
        self.loss_panoptic = (
            build_loss(loss_panoptic) if loss_panoptic else None
        )

    @property
    def with_loss(self):
        """bool: whether the head has a panoptic loss."""
        return self.loss_panoptic is not None

    @abstractmethod
    def forward_train(self, gt_masks=None, gt_semantic_seg=None, **kwargs):
        """Losses of the fusion (none for the heads here)."""

    @abstractmethod
    def simple_test(self, **kwargs):
        """The fused results of a batch."""
