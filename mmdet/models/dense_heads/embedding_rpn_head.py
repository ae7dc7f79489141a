"""Learned proposals of Sparse R-CNN: no network, just embeddings."""

import torch
import torch.nn as nn
from mmcv.runner import BaseModule

from mmdet.core import bbox_cxcywh_to_xyxy, img_whwh
from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import HEADS


@HEADS.register_module()
class EmbeddingRPNHead(BaseModule):
    """``num_proposals`` learned boxes (normalized ``cx, cy, w, h``, the
    whole image at start) and learned proposal features of
    ``proposal_feature_channel`` channels, identical for every image."""

    def __init__(
        self,
        num_proposals=100,
        proposal_feature_channel=256,
        init_cfg=None,
        **kwargs,
    ):
        if init_cfg is not None:
            raise InvalidArgumentError(
                'EmbeddingRPNHead: init_cfg must be None (its init is fixed)'
            )
        super().__init__(init_cfg)
        self.num_proposals = num_proposals
        self.proposal_feature_channel = proposal_feature_channel
        self.init_proposal_bboxes = nn.Embedding(num_proposals, 4)
        self.init_proposal_features = nn.Embedding(
            num_proposals, proposal_feature_channel
        )

    def init_weights(self):
        super().init_weights()
        nn.init.constant_(self.init_proposal_bboxes.weight[:, :2], 0.5)
        nn.init.constant_(self.init_proposal_bboxes.weight[:, 2:], 1)

    def _decode_init_proposals(self, feats, img_metas):
        """Returns (B, P, 4) pixel boxes, (B, P, C) features and the
        (B, 1, 4) image sizes ``w, h, w, h``."""
        # img_shape may be a tensor (an exported graph's input)
        whwh = torch.stack(
            [img_whwh(m['img_shape'], feats[0]) for m in img_metas]
        )[:, None]
        boxes = bbox_cxcywh_to_xyxy(self.init_proposal_bboxes.weight)
        features = self.init_proposal_features.weight
        features = features[None].expand(len(feats[0]), *features.shape)
        return boxes[None] * whwh, features, whwh

    def forward_dummy(self, img, img_metas):
        return self._decode_init_proposals(img, img_metas)

    def forward_train(self, img, img_metas):
        return self._decode_init_proposals(img, img_metas)

    def simple_test_rpn(self, img, img_metas):
        return self._decode_init_proposals(img, img_metas)

    def simple_test(self, img, img_metas):
        raise NotImplementedError

    def aug_test_rpn(self, feats, img_metas):
        raise NotImplementedError(
            'EmbeddingRPNHead does not support test-time augmentation'
        )


__all__ = ['EmbeddingRPNHead']
