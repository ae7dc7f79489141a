"""YOLOX (Ge et al., 2021): a single-stage detector that trains on
randomly resized batches."""

import random

import torch
import torch.distributed as dist
import torch.nn.functional as F
from mmcv.runner import get_dist_info

from mmdet.utils import log_img_scale
from ..builder import DETECTORS
from .single_stage import SingleStageDetector


@DETECTORS.register_module()
class YOLOX(SingleStageDetector):
    """Every ``random_size_interval`` training iterations a new input size
    is drawn (``size_multiplier`` times a random integer of
    ``random_size_range``, keeping ``input_size``'s aspect ratio; rank 0
    draws, the others receive it); each batch is resized to the current
    size with its boxes.

    Args:
        input_size (tuple[int, int]): (h, w) the data pipeline gives.
        size_multiplier (int): the drawn sizes are multiples of it.
        random_size_range (tuple[int, int]): range of the multiples.
        random_size_interval (int): iterations between draws.
        others: see :class:`SingleStageDetector`.
    """

    def __init__(
        self,
        backbone,
        neck,
        bbox_head,
        train_cfg=None,
        test_cfg=None,
        pretrained=None,
        input_size=(640, 640),
        size_multiplier=32,
        random_size_range=(15, 25),
        random_size_interval=10,
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
        log_img_scale(input_size, skip_square=True)
        self.rank, self.world_size = get_dist_info()
        self._default_input_size = input_size
        self._input_size = input_size
        self._random_size_range = random_size_range
        self._random_size_interval = random_size_interval
        self._size_multiplier = size_multiplier
        self._progress_in_iter = 0

    def forward_train(
        self, img, img_metas, gt_bboxes, gt_labels, gt_bboxes_ignore=None
    ):
        """Losses of the batch resized to the current input size."""
        img, gt_bboxes = self._preprocess(img, gt_bboxes)
        losses = super().forward_train(
            img, img_metas, gt_bboxes, gt_labels, gt_bboxes_ignore
        )
        if (self._progress_in_iter + 1) % self._random_size_interval == 0:
            self._input_size = self._random_resize(device=img.device)
        self._progress_in_iter += 1
        return losses

    def _preprocess(self, img, gt_bboxes):
        """Resize the (B, 3, H, W) batch and scale the boxes in place, in
        the ratio of the current to the default input size."""
        scale_y = self._input_size[0] / self._default_input_size[0]
        scale_x = self._input_size[1] / self._default_input_size[1]
        if scale_x != 1 or scale_y != 1:
            img = F.interpolate(
                img,
                size=self._input_size,
                mode='bilinear',
                align_corners=False,
            )
            for boxes in gt_bboxes:
                boxes[..., 0::2] = boxes[..., 0::2] * scale_x
                boxes[..., 1::2] = boxes[..., 1::2] * scale_y
        return img, gt_bboxes

    def _random_resize(self, device):
        """The next (h, w), drawn on rank 0 and broadcast."""
        size = torch.zeros(2, dtype=torch.long, device=device)
        if self.rank == 0:
            multiple = random.randint(*self._random_size_range)
            default_h, default_w = self._default_input_size
            size[0] = self._size_multiplier * multiple
            size[1] = self._size_multiplier * int(
                float(default_w) / default_h * multiple
            )
        if self.world_size > 1:
            dist.barrier()
            dist.broadcast(size, 0)
        return (size[0].item(), size[1].item())
