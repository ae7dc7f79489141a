"""DETR's head (MMDetection 2.x ``DETRHead``): a transformer decodes
``num_query`` learned queries against the last feature map; each query
gives class logits and a normalised ``(cx, cy, w, h)`` box.

Training matches the queries of every decoder layer to the gts one-to-one
(``HungarianAssigner``) and sums classification, L1 and GIoU losses per
layer (``d0.loss_cls`` ... for the intermediate ones). Testing keeps the
``max_per_img`` best (query, class) pairs of the last layer: there is no
NMS and no prior, so the head does not use ``BaseDenseHead``'s
prior-based ``get_bboxes``.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import Conv2d, Linear, build_activation_layer
from mmcv.cnn.bricks.transformer import FFN, build_positional_encoding
from mmcv.runner import force_fp32

from mmdet.core import (
    bbox_cxcywh_to_xyxy,
    bbox_xyxy_to_cxcywh,
    build_assigner,
    build_sampler,
    img_whwh,
    multi_apply,
    reduce_mean,
)
from mmdet.utils.arg_errors import InvalidArgumentTypeError, check_arg
from ..builder import HEADS, build_loss
from ..utils import build_transformer
from .base_dense_head import BaseDenseHead

# pre-v2 DETR checkpoints named the transformer parts differently
_V1_KEYS = {
    '.self_attn.': '.attentions.0.',
    '.ffn.': '.ffns.0.',
    '.multihead_attn.': '.attentions.1.',
    '.decoder.norm.': '.decoder.post_norm.',
}


def padding_masks(img_metas, like):
    """``(bs, H, W)`` of the padded batch: 1 outside each image's
    ``img_shape``, 0 inside (dtype and device of ``like``).

    Computed by comparison, not written by slices, so that an
    ``img_shape`` given as a (2,) tensor (an exported graph's input) keeps
    its sizes traced."""
    h, w = img_metas[0]['batch_input_shape']
    sizes = torch.stack(
        [
            torch.as_tensor(meta['img_shape'][:2], device=like.device)
            for meta in img_metas
        ]
    )
    rows = torch.arange(h, device=like.device)[None, :, None]
    cols = torch.arange(w, device=like.device)[None, None, :]
    outside = (rows >= sizes[:, 0, None, None]) | (
        cols >= sizes[:, 1, None, None]
    )
    return outside.to(like.dtype)


def resize_mask(masks, size):
    """Nearest-neighbour ``(bs, H, W)`` -> bool ``(bs, *size)``."""
    return F.interpolate(masks[None], size=size).to(torch.bool)[0]


def _float_weight(loss_cls, key, default):
    value = loss_cls.get(key, default)
    if not isinstance(value, float):
        raise InvalidArgumentTypeError(
            f'DETRHead: loss_cls.{key} must be a float, got '
            f'{type(value).__name__}'
        )
    return value


def _check_costs(loss_cls, loss_bbox, loss_iou, assigner):
    """The matcher must weigh each term as the loss does."""
    for loss, cost in (
        (loss_cls, 'cls_cost'),
        (loss_bbox, 'reg_cost'),
        (loss_iou, 'iou_cost'),
    ):
        check_arg(
            loss['loss_weight'] == assigner[cost]['weight'],
            'DETRHead',
            f"train_cfg.assigner.{cost}.weight must equal the loss's "
            f"loss_weight ({loss['loss_weight']})",
        )


@HEADS.register_module()
class DETRHead(BaseDenseHead):
    """DETR's transformer head.

    Args:
        num_classes (int): classes without the background.
        in_channels (int): channels of the input feature map.
        num_query (int): number of object queries.
        num_reg_fcs (int): fcs of the box branch's FFN.
        transformer (dict): the transformer (its ``act_cfg``, if any, is
            the box branch's activation).
        sync_cls_avg_factor (bool): average the classification normaliser
            over GPUs.
        positional_encoding (dict): ``num_feats`` must be half the
            transformer's ``embed_dims``.
        loss_cls, loss_bbox, loss_iou (dict): the losses; a softmax
            ``loss_cls`` takes a float ``class_weight`` and
            ``bg_cls_weight`` (the no-object class's weight).
        train_cfg (dict): ``assigner``, whose cost weights equal the loss
            weights.
        test_cfg (dict): ``max_per_img``.
    """

    _version = 2

    def __init__(
        self,
        num_classes,
        in_channels,
        num_query=100,
        num_reg_fcs=2,
        transformer=None,
        sync_cls_avg_factor=False,
        positional_encoding=dict(
            type='SinePositionalEncoding', num_feats=128, normalize=True
        ),
        loss_cls=dict(
            type='CrossEntropyLoss',
            bg_cls_weight=0.1,
            use_sigmoid=False,
            loss_weight=1.0,
            class_weight=1.0,
        ),
        loss_bbox=dict(type='L1Loss', loss_weight=5.0),
        loss_iou=dict(type='GIoULoss', loss_weight=2.0),
        train_cfg=dict(
            assigner=dict(
                type='HungarianAssigner',
                cls_cost=dict(type='ClassificationCost', weight=1.0),
                reg_cost=dict(type='BBoxL1Cost', weight=5.0),
                iou_cost=dict(type='IoUCost', iou_mode='giou', weight=2.0),
            )
        ),
        test_cfg=dict(max_per_img=100),
        init_cfg=None,
        **kwargs,
    ):
        super().__init__(init_cfg)
        loss_cls = dict(loss_cls)
        self.bg_cls_weight = 0
        self.sync_cls_avg_factor = sync_cls_avg_factor
        if loss_cls.get('class_weight') is not None and type(self) is DETRHead:
            self._set_class_weight(loss_cls, num_classes)
        if train_cfg:
            check_arg(
                'assigner' in train_cfg,
                type(self).__name__,
                'train_cfg needs an assigner',
            )
            _check_costs(loss_cls, loss_bbox, loss_iou, train_cfg['assigner'])
            self.assigner = build_assigner(train_cfg['assigner'])
            self.sampler = build_sampler(dict(type='PseudoSampler'))
        self.num_query = num_query
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.num_reg_fcs = num_reg_fcs
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self.fp16_enabled = False
        self.loss_cls = build_loss(loss_cls)
        self.loss_bbox = build_loss(loss_bbox)
        self.loss_iou = build_loss(loss_iou)
        sigmoid = self.loss_cls.use_sigmoid
        self.cls_out_channels = num_classes if sigmoid else num_classes + 1
        self.act_cfg = transformer.get(
            'act_cfg', dict(type='ReLU', inplace=True)
        )
        self.activate = build_activation_layer(self.act_cfg)
        self.positional_encoding = build_positional_encoding(
            positional_encoding
        )
        self.transformer = build_transformer(transformer)
        self.embed_dims = self.transformer.embed_dims
        check_arg(
            positional_encoding.get('num_feats', 0) * 2 == self.embed_dims,
            type(self).__name__,
            f'positional_encoding.num_feats must be embed_dims / 2 '
            f'({self.embed_dims} / 2)',
        )
        self._init_layers()

    def _set_class_weight(self, loss_cls, num_classes):
        """Float ``class_weight`` -> per-class tensor whose last (no-object)
        entry is ``bg_cls_weight``."""
        class_weight = _float_weight(loss_cls, 'class_weight', None)
        bg_cls_weight = _float_weight(loss_cls, 'bg_cls_weight', class_weight)
        weights = torch.full((num_classes + 1,), class_weight)
        weights[num_classes] = bg_cls_weight
        loss_cls['class_weight'] = weights
        loss_cls.pop('bg_cls_weight', None)
        self.bg_cls_weight = bg_cls_weight

    def _init_layers(self):
        c = self.embed_dims
        self.input_proj = Conv2d(self.in_channels, c, kernel_size=1)
        self.fc_cls = Linear(c, self.cls_out_channels)
        self.reg_ffn = FFN(
            c,
            c,
            self.num_reg_fcs,
            self.act_cfg,
            ffn_drop=0.0,
            add_identity=False,
        )
        self.fc_reg = Linear(c, 4)
        self.query_embedding = nn.Embedding(self.num_query, c)

    def init_weights(self):
        self.transformer.init_weights()

    def _load_from_state_dict(
        self,
        state_dict,
        prefix,
        local_metadata,
        strict,
        missing_keys,
        unexpected_keys,
        error_msgs,
    ):
        version = local_metadata.get('version', None)
        if (version is None or version < 2) and type(self) is DETRHead:
            for key in list(state_dict):
                for old, new in _V1_KEYS.items():
                    if old in key:
                        state_dict[key.replace(old, new)] = state_dict.pop(key)
        super()._load_from_state_dict(
            state_dict,
            prefix,
            local_metadata,
            strict,
            missing_keys,
            unexpected_keys,
            error_msgs,
        )

    def forward(self, feats, img_metas):
        """Per level ``(num_dec_layers, bs, num_query, cls_out_channels)``
        logits and ``(num_dec_layers, bs, num_query, 4)`` sigmoid boxes."""
        return multi_apply(
            self.forward_single, feats, [img_metas] * len(feats)
        )

    def forward_single(self, x, img_metas):
        masks = padding_masks(img_metas, x)
        x = self.input_proj(x)
        masks = resize_mask(masks, x.shape[-2:])
        pos_embed = self.positional_encoding(masks)
        outs_dec, _ = self.transformer(
            x, masks, self.query_embedding.weight, pos_embed
        )
        return self._predict(outs_dec)

    def _predict(self, outs_dec):
        cls_scores = self.fc_cls(outs_dec)
        boxes = self.fc_reg(self.activate(self.reg_ffn(outs_dec)))
        return cls_scores, boxes.sigmoid()

    @force_fp32(apply_to=('all_cls_scores_list', 'all_bbox_preds_list'))
    def loss(
        self,
        all_cls_scores_list,
        all_bbox_preds_list,
        gt_bboxes_list,
        gt_labels_list,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """Losses of the last level's every decoder layer."""
        return self._layer_losses(
            all_cls_scores_list[-1],
            all_bbox_preds_list[-1],
            gt_bboxes_list,
            gt_labels_list,
            img_metas,
            gt_bboxes_ignore,
        )

    def _layer_losses(
        self,
        all_cls_scores,
        all_bbox_preds,
        gt_bboxes_list,
        gt_labels_list,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """``loss_*`` of the last decoder layer, ``d<i>.loss_*`` of the
        others."""
        check_arg(
            gt_bboxes_ignore is None,
            type(self).__name__,
            'gt_bboxes_ignore is not supported',
        )
        n = len(all_cls_scores)
        losses_cls, losses_bbox, losses_iou = multi_apply(
            self.loss_single,
            all_cls_scores,
            all_bbox_preds,
            [gt_bboxes_list] * n,
            [gt_labels_list] * n,
            [img_metas] * n,
        )
        losses = dict(
            loss_cls=losses_cls[-1],
            loss_bbox=losses_bbox[-1],
            loss_iou=losses_iou[-1],
        )
        for i in range(n - 1):
            losses[f'd{i}.loss_cls'] = losses_cls[i]
            losses[f'd{i}.loss_bbox'] = losses_bbox[i]
            losses[f'd{i}.loss_iou'] = losses_iou[i]
        return losses

    def loss_single(
        self,
        cls_scores,
        bbox_preds,
        gt_bboxes_list,
        gt_labels_list,
        img_metas,
        gt_bboxes_ignore_list=None,
    ):
        """One decoder layer's ``(loss_cls, loss_bbox, loss_iou)`` for
        ``(bs, num_query, cls_out_channels)`` logits and ``(bs, num_query,
        4)`` boxes. Classification is averaged over ``num_pos +
        bg_cls_weight * num_neg``, the box losses over ``num_pos``."""
        targets = self.get_targets(
            list(cls_scores),
            list(bbox_preds),
            gt_bboxes_list,
            gt_labels_list,
            img_metas,
            gt_bboxes_ignore_list,
        )
        labels, label_weights, bbox_targets, bbox_weights = (
            torch.cat(t, 0) for t in targets[:4]
        )
        num_pos, num_neg = targets[4:]
        cls_avg_factor = num_pos * 1.0 + num_neg * self.bg_cls_weight
        if self.sync_cls_avg_factor:
            cls_avg_factor = reduce_mean(
                cls_scores.new_tensor([cls_avg_factor])
            )
        loss_cls = self.loss_cls(
            cls_scores.reshape(-1, self.cls_out_channels),
            labels,
            label_weights,
            avg_factor=max(cls_avg_factor, 1),
        )
        num_pos = reduce_mean(loss_cls.new_tensor([num_pos]))
        num_pos = num_pos.clamp(min=1).item()
        factors = torch.cat(
            [
                self._image_factor(meta, bbox_preds).expand(
                    bbox_preds.size(1), 4
                )
                for meta in img_metas
            ]
        )
        bbox_preds = bbox_preds.reshape(-1, 4)
        loss_iou = self.loss_iou(
            bbox_cxcywh_to_xyxy(bbox_preds) * factors,
            bbox_cxcywh_to_xyxy(bbox_targets) * factors,
            bbox_weights,
            avg_factor=num_pos,
        )
        loss_bbox = self.loss_bbox(
            bbox_preds, bbox_targets, bbox_weights, avg_factor=num_pos
        )
        return loss_cls, loss_bbox, loss_iou

    @staticmethod
    def _image_factor(img_meta, like):
        """``(1, 4)`` ``(w, h, w, h)`` of the image, to scale boxes."""
        img_h, img_w = img_meta['img_shape'][:2]
        return like.new_tensor([img_w, img_h, img_w, img_h])[None]

    def get_targets(
        self,
        cls_scores_list,
        bbox_preds_list,
        gt_bboxes_list,
        gt_labels_list,
        img_metas,
        gt_bboxes_ignore_list=None,
    ):
        """Per image labels, label weights, normalised ``cxcywh`` box
        targets and box weights, plus the total positive and negative
        counts."""
        check_arg(
            gt_bboxes_ignore_list is None,
            type(self).__name__,
            'gt_bboxes_ignore is not supported',
        )
        results = multi_apply(
            self._get_target_single,
            cls_scores_list,
            bbox_preds_list,
            gt_bboxes_list,
            gt_labels_list,
            img_metas,
        )
        num_pos = sum(inds.numel() for inds in results[4])
        num_neg = sum(inds.numel() for inds in results[5])
        return tuple(results[:4]) + (num_pos, num_neg)

    def _get_target_single(
        self,
        cls_score,
        bbox_pred,
        gt_bboxes,
        gt_labels,
        img_meta,
        gt_bboxes_ignore=None,
    ):
        """Targets of one image's ``(num_query, ...)`` predictions; the
        unmatched queries are labelled ``num_classes`` (no object)."""
        num_bboxes = bbox_pred.size(0)
        assign_result = self.assigner.assign(
            bbox_pred, cls_score, gt_bboxes, gt_labels, img_meta
        )
        sampling = self.sampler.sample(assign_result, bbox_pred, gt_bboxes)
        pos_inds, neg_inds = sampling.pos_inds, sampling.neg_inds
        labels = gt_bboxes.new_full(
            (num_bboxes,), self.num_classes, dtype=torch.long
        )
        labels[pos_inds] = gt_labels[sampling.pos_assigned_gt_inds]
        label_weights = gt_bboxes.new_ones(num_bboxes)
        bbox_targets = torch.zeros_like(bbox_pred)
        bbox_weights = torch.zeros_like(bbox_pred)
        bbox_weights[pos_inds] = 1.0
        factor = self._image_factor(img_meta, bbox_pred)
        bbox_targets[pos_inds] = bbox_xyxy_to_cxcywh(
            sampling.pos_gt_bboxes / factor
        )
        return (
            labels,
            label_weights,
            bbox_targets,
            bbox_weights,
            pos_inds,
            neg_inds,
        )

    def forward_train(
        self,
        x,
        img_metas,
        gt_bboxes,
        gt_labels=None,
        gt_bboxes_ignore=None,
        proposal_cfg=None,
        **kwargs,
    ):
        check_arg(
            proposal_cfg is None,
            type(self).__name__,
            'proposal_cfg must be None',
        )
        outs = self(x, img_metas)
        targets = (gt_bboxes,) if gt_labels is None else (gt_bboxes, gt_labels)
        return self.loss(
            *outs, *targets, img_metas, gt_bboxes_ignore=gt_bboxes_ignore
        )

    @force_fp32(apply_to=('all_cls_scores_list', 'all_bbox_preds_list'))
    def get_bboxes(
        self,
        all_cls_scores_list,
        all_bbox_preds_list,
        img_metas,
        rescale=False,
    ):
        """Per image ``(det_bboxes (k, 5), det_labels (k,))`` from the last
        level's last decoder layer."""
        return self._last_layer_bboxes(
            all_cls_scores_list[-1][-1],
            all_bbox_preds_list[-1][-1],
            img_metas,
            rescale,
        )

    def _last_layer_bboxes(self, cls_scores, bbox_preds, img_metas, rescale):
        return [
            self._get_bboxes_single(
                cls_scores[i],
                bbox_preds[i],
                meta['img_shape'],
                meta['scale_factor'],
                rescale,
            )
            for i, meta in enumerate(img_metas)
        ]

    def _get_bboxes_single(
        self, cls_score, bbox_pred, img_shape, scale_factor, rescale=False
    ):
        """The ``max_per_img`` best (query, class) pairs of ``(num_query,
        cls_out_channels)`` logits: sigmoid over all pairs, or softmax
        without the no-object class and each query's best class. Boxes in
        ``img_shape`` pixels (clipped), divided by ``scale_factor`` with
        ``rescale``."""
        check_arg(
            len(cls_score) == len(bbox_pred),
            type(self).__name__,
            'as many class scores as boxes',
        )
        max_per_img = self.test_cfg.get('max_per_img', self.num_query)
        if self.loss_cls.use_sigmoid:
            scores, indexes = cls_score.sigmoid().view(-1).topk(max_per_img)
            labels = indexes % self.num_classes
            bbox_pred = bbox_pred[indexes // self.num_classes]
        else:
            scores, labels = F.softmax(cls_score, -1)[..., :-1].max(-1)
            scores, index = scores.topk(max_per_img)
            bbox_pred, labels = bbox_pred[index], labels[index]
        size = img_whwh(img_shape, bbox_pred)
        bboxes = bbox_cxcywh_to_xyxy(bbox_pred) * size
        bboxes = torch.minimum(bboxes.clamp(min=0), size)
        if rescale:
            bboxes = bboxes / torch.as_tensor(scale_factor).to(bboxes)
        return torch.cat((bboxes, scores[:, None]), -1), labels

    def simple_test_bboxes(self, feats, img_metas, rescale=False):
        outs = self.forward(feats, img_metas)
        return self.get_bboxes(*outs, img_metas, rescale=rescale)

    def aug_test(self, feats, img_metas, rescale=False):
        raise NotImplementedError(
            f'{type(self).__name__} has no test-time augmentation '
            '(as in MMDetection)'
        )

    def forward_dummy(self, feats, img_metas):
        return self(feats, img_metas)
