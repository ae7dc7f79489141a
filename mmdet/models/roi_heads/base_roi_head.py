"""Base class of the RoI heads (second stage of two-stage detectors)."""

from abc import ABCMeta, abstractmethod

from mmcv import ConfigDict
from mmcv.runner import BaseModule

from ..builder import build_shared_head
from ..dense_heads.cfg_check import check_cfg_keys

TRAIN_CFG_KEYS = (
    'assigner',
    'sampler',
    'pos_weight',
    'debug',
    'mask_size',
    'soft_mask_target',
)
TEST_CFG_KEYS = ('score_thr', 'nms', 'max_per_img', 'mask_thr_binary')


class BaseRoIHead(BaseModule, metaclass=ABCMeta):
    """Box (and optionally mask) branch on RoI features.

    Args:
        bbox_roi_extractor, bbox_head (dict, optional): box branch.
        mask_roi_extractor (dict, optional): None shares the box branch's
            extractor.
        mask_head (dict, optional): mask branch.
        shared_head (dict, optional): a module run on the pooled RoI
            features before the box and mask heads (the C4 ``ResLayer``).
        train_cfg (dict, optional): ``assigner``, ``sampler``,
            ``pos_weight``, ``debug`` (and ``mask_size`` for masks).
        test_cfg (dict, optional): ``score_thr``, ``nms``, ``max_per_img``
            (and ``mask_thr_binary``).
        pretrained (str, optional): deprecated; handed to the shared
            head.
        init_cfg (dict, optional): initialization config.
    """

    def __init__(
        self,
        bbox_roi_extractor=None,
        bbox_head=None,
        mask_roi_extractor=None,
        mask_head=None,
        shared_head=None,
        train_cfg=None,
        test_cfg=None,
        pretrained=None,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        self.train_cfg = self.init_train_cfg(train_cfg)
        self.test_cfg = self.init_test_cfg(test_cfg)
        if shared_head is not None:
            shared_head = dict(shared_head, pretrained=pretrained)
            self.shared_head = build_shared_head(shared_head)
        if bbox_head is not None:
            self.init_bbox_head(bbox_roi_extractor, bbox_head)
        if mask_head is not None:
            self.init_mask_head(mask_roi_extractor, mask_head)
        self.init_assigner_sampler()

    def init_train_cfg(self, train_cfg):
        """The checked training settings as a ``ConfigDict`` (or None)."""
        check_cfg_keys(train_cfg, TRAIN_CFG_KEYS, 'RoI head train_cfg')
        return ConfigDict(train_cfg) if train_cfg is not None else None

    def init_test_cfg(self, test_cfg):
        """The checked test settings as a ``ConfigDict`` (or None)."""
        check_cfg_keys(test_cfg, TEST_CFG_KEYS, 'RoI head test_cfg')
        return ConfigDict(test_cfg) if test_cfg is not None else None

    @property
    def with_bbox(self):
        return hasattr(self, 'bbox_head') and self.bbox_head is not None

    @property
    def with_mask(self):
        return hasattr(self, 'mask_head') and self.mask_head is not None

    @property
    def with_shared_head(self):
        return getattr(self, 'shared_head', None) is not None

    @abstractmethod
    def init_bbox_head(self, bbox_roi_extractor, bbox_head):
        """Build the box branch."""

    @abstractmethod
    def init_mask_head(self, mask_roi_extractor, mask_head):
        """Build the mask branch."""

    @abstractmethod
    def init_assigner_sampler(self):
        """Build the training assigner and sampler."""

    @abstractmethod
    def forward_train(
        self,
        x,
        img_metas,
        proposal_list,
        gt_bboxes,
        gt_labels,
        gt_bboxes_ignore=None,
        gt_masks=None,
    ):
        """Dict of losses."""

    @abstractmethod
    def simple_test(
        self, x, proposal_list, img_metas, proposals=None, rescale=False
    ):
        """Results of a batch without augmentation."""

    def aug_test(self, x, proposal_list, img_metas, rescale=False):
        """Results merged over test-time augmentations."""
        raise NotImplementedError(
            f'{type(self).__name__} does not support test-time augmentation'
        )
