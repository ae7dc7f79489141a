"""CenterNet (Zhou et al., 2019)."""

import torch

from mmdet.core import bbox2result, flip_tensor
from mmdet.utils.arg_errors import check_arg
from ..builder import DETECTORS
from .single_stage import SingleStageDetector


@DETECTORS.register_module()
class CenterNet(SingleStageDetector):
    """CenterNet: a :class:`SingleStageDetector` with a
    :class:`CenterNetHead`; its flip test averages the heatmap and size
    maps of each image and its flip before decoding."""

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

    def merge_aug_results(self, aug_results, with_nms):
        """Concatenate the per-pair ``[(dets, labels)]``; NMS if asked."""
        bboxes = torch.cat([res[0][0] for res in aug_results]).contiguous()
        labels = torch.cat([res[0][1] for res in aug_results]).contiguous()
        if not with_nms:
            return bboxes, labels
        return self.bbox_head._bboxes_nms(
            bboxes, labels, self.bbox_head.test_cfg
        )

    def aug_test(self, imgs, img_metas, rescale=True):
        """Test on (image, flipped image) pairs: ``imgs[2i + 1]`` is the
        flip of ``imgs[2i]``; NMS over the pairs if ``test_cfg`` has
        ``nms_cfg``."""
        check_arg(
            bool(img_metas[0][0]['flip'] + img_metas[1][0]['flip']),
            'CenterNet.aug_test',
            'needs an image and its flip',
        )
        head = self.bbox_head
        aug_results = []
        for ind in range(0, len(imgs) - 1, 2):
            direction = img_metas[ind + 1][0]['flip_direction']
            x = self.extract_feat(torch.cat([imgs[ind], imgs[ind + 1]]))
            heatmaps, whs, offsets = head(x)
            heatmap = (
                heatmaps[0][0:1] + flip_tensor(heatmaps[0][1:2], direction)
            ) / 2
            wh = (whs[0][0:1] + flip_tensor(whs[0][1:2], direction)) / 2
            aug_results.append(
                head.get_bboxes(
                    [heatmap],
                    [wh],
                    [offsets[0][0:1]],
                    img_metas[ind],
                    rescale=rescale,
                    with_nms=False,
                )
            )
        with_nms = head.test_cfg.get('nms_cfg', None) is not None
        dets, labels = self.merge_aug_results(aug_results, with_nms)
        return [bbox2result(dets, labels, head.num_classes)]
