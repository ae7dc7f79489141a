"""TridentNet's RoI head (Li et al., 2019): each image's detections of
the branches are merged by one more NMS."""

import torch

from mmdet.core import bbox2result
from mmdet.core.post_processing.bbox_nms import batched_nms
from mmdet.utils.arg_errors import check_arg
from ..builder import HEADS
from .standard_roi_head import StandardRoIHead


@HEADS.register_module()
class TridentRoIHead(StandardRoIHead):
    """StandardRoIHead over the ``num_branch`` copies of each image.

    Args:
        num_branch (int): branches of the TridentNet backbone.
        test_branch_idx (int): the one branch used at test time, or -1
            for all of them.

    At test time the feature batch holds the branches one after another;
    the detections of consecutive groups of ``num_branch`` entries are
    merged (as MMDetection 2.28, which is exact for one image per batch).
    """

    def __init__(self, num_branch, test_branch_idx, **kwargs):
        self.num_branch = num_branch
        self.test_branch_idx = test_branch_idx
        super().__init__(**kwargs)

    @property
    def num_test_branches(self):
        return self.num_branch if self.test_branch_idx == -1 else 1

    def merge_trident_bboxes(self, trident_det_bboxes, trident_det_labels):
        """(n, 5) boxes and (n,) labels of all branches -> class-wise NMS
        (``test_cfg.nms``), at most ``test_cfg.max_per_img``."""
        if trident_det_bboxes.numel() == 0:
            return (
                trident_det_bboxes.new_zeros((0, 5)),
                trident_det_bboxes.new_zeros((0,), dtype=torch.long),
            )
        det_bboxes, keep = batched_nms(
            trident_det_bboxes[:, :4],
            trident_det_bboxes[:, 4].contiguous(),
            trident_det_labels,
            self.test_cfg['nms'],
        )
        det_labels = trident_det_labels[keep]
        max_num = self.test_cfg['max_per_img']
        if max_num > 0:
            det_bboxes, det_labels = det_bboxes[:max_num], det_labels[:max_num]
        return det_bboxes, det_labels

    def simple_test(
        self, x, proposal_list, img_metas, proposals=None, rescale=False
    ):
        """Per image, per class (n, 5) arrays of the merged detections;
        ``img_metas`` has one entry per image and branch."""
        check_arg(self.with_bbox, 'TridentRoIHead', 'needs a bbox head')
        det_bboxes, det_labels = self.simple_test_bboxes(
            x, img_metas, proposal_list, self.test_cfg, rescale=rescale
        )
        det_bboxes = [b.reshape(-1, 5) for b in det_bboxes]
        n = self.num_test_branches
        results = []
        for i in range(len(img_metas) // n):
            group = slice(i * n, (i + 1) * n)
            boxes, labels = self.merge_trident_bboxes(
                torch.cat(det_bboxes[group]), torch.cat(det_labels[group])
            )
            results.append(
                bbox2result(boxes, labels, self.bbox_head.num_classes)
            )
        return results
