"""TridentNet (Li et al., 2019) on Faster R-CNN."""

from mmdet.utils.arg_errors import check_arg
from ..builder import DETECTORS
from .faster_rcnn import FasterRCNN


@DETECTORS.register_module()
class TridentFasterRCNN(FasterRCNN):
    """Faster R-CNN on a :class:`TridentResNet`, whose feature batch holds
    ``num_branch`` copies of the images (one per dilation); the RPN and
    the :class:`TridentRoIHead` see each image once per branch."""

    def __init__(
        self,
        backbone,
        rpn_head,
        roi_head,
        train_cfg,
        test_cfg,
        neck=None,
        pretrained=None,
        init_cfg=None,
    ):
        super().__init__(
            backbone=backbone,
            neck=neck,
            rpn_head=rpn_head,
            roi_head=roi_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            pretrained=pretrained,
            init_cfg=init_cfg,
        )
        for key in ('num_branch', 'test_branch_idx'):
            check_arg(
                getattr(self.backbone, key) == getattr(self.roi_head, key),
                'TridentFasterRCNN',
                f'backbone and roi_head disagree on {key}',
            )
        self.num_branch = self.backbone.num_branch
        self.test_branch_idx = self.backbone.test_branch_idx

    @property
    def _test_branches(self):
        return self.num_branch if self.test_branch_idx == -1 else 1

    def simple_test(self, img, img_metas, proposals=None, rescale=False):
        check_arg(self.with_bbox, 'TridentFasterRCNN', 'needs a bbox head')
        x = self.extract_feat(img)
        trident_img_metas = img_metas * self._test_branches
        if proposals is None:
            proposals = self.rpn_head.simple_test_rpn(x, trident_img_metas)
        return self.roi_head.simple_test(
            x, proposals, trident_img_metas, rescale=rescale
        )

    def aug_test(self, imgs, img_metas, rescale=False):
        x = self.extract_feats(imgs)
        trident_img_metas = [m * self._test_branches for m in img_metas]
        proposal_list = self.rpn_head.aug_test_rpn(x, trident_img_metas)
        return self.roi_head.aug_test(
            x, proposal_list, img_metas, rescale=rescale
        )

    def forward_train(self, img, img_metas, gt_bboxes, gt_labels, **kwargs):
        """Losses with the gts repeated for every branch (the other
        targets, e.g. ignored boxes, are dropped as in MMDetection)."""
        n = self.num_branch
        return super().forward_train(
            img,
            tuple(img_metas * n),
            tuple(gt_bboxes * n),
            tuple(gt_labels * n),
        )
