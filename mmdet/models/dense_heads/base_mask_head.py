"""Base of the mask heads of one-stage instance segmentors (SOLO, YOLACT's
mask branch): ``loss`` from the forward outputs, ``get_results`` per image.

Results are dicts with ``scores`` (n,), ``labels`` (n,), ``masks`` (n, H, W)
bool at the original image size and optionally ``bboxes`` (n, 4).
"""

from abc import ABCMeta, abstractmethod

from mmcv.runner import BaseModule


class BaseMaskHead(BaseModule, metaclass=ABCMeta):
    """Base class for mask heads used in one-stage instance segmentation."""

    def __init__(self, init_cfg):
        super().__init__(init_cfg)

    @abstractmethod
    def loss(self, **kwargs):
        """Dict of losses from the forward outputs and the ground truth."""

    @abstractmethod
    def get_results(self, **kwargs):
        """List (one per image) of result dicts."""

    def forward_train(
        self,
        x,
        gt_labels,
        gt_masks,
        img_metas,
        gt_bboxes=None,
        gt_bboxes_ignore=None,
        positive_infos=None,
        **kwargs,
    ):
        """Losses of FPN features ``x``; ``gt_masks`` (num_gts, H, W) bool
        tensors per image; ``positive_infos`` from a box head (YOLACT)."""
        outs = self(x) if positive_infos is None else self(x, positive_infos)
        if not isinstance(outs, tuple):
            raise TypeError('the forward of a mask head must return a tuple')
        return self.loss(
            *outs,
            gt_labels=gt_labels,
            gt_masks=gt_masks,
            img_metas=img_metas,
            gt_bboxes=gt_bboxes,
            gt_bboxes_ignore=gt_bboxes_ignore,
            positive_infos=positive_infos,
            **kwargs,
        )

    def simple_test(
        self, feats, img_metas, rescale=False, instances_list=None, **kwargs
    ):
        """Result dicts of each image (see the module docstring)."""
        if instances_list is None:
            outs = self(feats)
        else:
            outs = self(feats, instances_list=instances_list)
        return self.get_results(
            *outs,
            img_metas,
            rescale=rescale,
            instances_list=instances_list,
            **kwargs,
        )

    def onnx_export(self, img, img_metas):
        raise NotImplementedError(
            f'{type(self).__name__} does not support ONNX export'
        )
