"""CornerNet (Law & Deng, 2018); also CentripetalNet's detector."""

import torch

from mmdet.core import bbox2result, bbox_mapping_back
from mmdet.utils.arg_errors import check_arg
from ..builder import DETECTORS
from .single_stage import SingleStageDetector


@DETECTORS.register_module()
class CornerNet(SingleStageDetector):
    """CornerNet: a :class:`SingleStageDetector` with a
    :class:`CornerHead`; its flip test detects on each image and its flip,
    maps both back and runs one NMS."""

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

    def merge_aug_results(self, aug_results, img_metas):
        """Map every augmentation's (dets, labels) back to the original
        image (unpadded ``img_shape``) and NMS them together."""
        boxes, labels = [], []
        for (dets, lab), metas in zip(aug_results, img_metas):
            meta = metas[0]
            back = bbox_mapping_back(
                dets[:, :4], meta['img_shape'], meta['scale_factor'],
                meta['flip'],
            )  # fmt: skip
            boxes.append(torch.cat([back, dets[:, -1:]], dim=-1))
            labels.append(lab)
        bboxes, labels = torch.cat(boxes), torch.cat(labels)
        if bboxes.shape[0] == 0:
            return bboxes, labels
        return self.bbox_head._bboxes_nms(
            bboxes, labels, self.bbox_head.test_cfg
        )

    def aug_test(self, imgs, img_metas, rescale=False):
        """Test on (image, flipped image) pairs: ``imgs[2i + 1]`` is the
        flip of ``imgs[2i]``."""
        check_arg(
            bool(img_metas[0][0]['flip'] + img_metas[1][0]['flip']),
            'CornerNet.aug_test',
            'needs an image and its flip',
        )
        aug_results = []
        for ind in range(0, len(imgs) - 1, 2):
            x = self.extract_feat(torch.cat([imgs[ind], imgs[ind + 1]]))
            aug_results += self.bbox_head.get_bboxes(
                *self.bbox_head(x),
                [img_metas[ind], img_metas[ind + 1]],
                False,
                False,
            )
        bboxes, labels = self.merge_aug_results(aug_results, img_metas)
        return [bbox2result(bboxes, labels, self.bbox_head.num_classes)]
