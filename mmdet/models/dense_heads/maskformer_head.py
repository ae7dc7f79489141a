"""MaskFormer's head: a transformer decoder turns learned queries into
class logits and mask embeddings; a query's mask is its embedding dotted
with the pixel decoder's per-pixel features."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import Conv2d, build_plugin_layer, caffe2_xavier_init
from mmcv.cnn.bricks.transformer import (
    build_positional_encoding,
    build_transformer_layer_sequence,
)

from mmdet.core import build_assigner, build_sampler, multi_apply, reduce_mean
from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import HEADS, build_loss
from ..plugins.pixel_decoder import padding_mask_at
from ..utils.panoptic_gt_processing import preprocess_panoptic_gt
from .anchor_free_head import AnchorFreeHead
from .base_dense_head import BaseDenseHead


def mask_embed_mlp(feat_channels, out_channels):
    """The 3-layer MLP (ReLU between) from a query to its mask embedding."""
    return nn.Sequential(
        nn.Linear(feat_channels, feat_channels),
        nn.ReLU(inplace=True),
        nn.Linear(feat_channels, feat_channels),
        nn.ReLU(inplace=True),
        nn.Linear(feat_channels, out_channels),
    )


@HEADS.register_module()
class MaskFormerHead(AnchorFreeHead):
    """MaskFormer's head over ``num_things_classes + num_stuff_classes``
    classes (and a 'no object' class last).

    Args: as MMDetection 2.28's (``in_channels`` of the backbone levels,
    ``feat_channels``, ``out_channels`` (mask embedding), the class
    counts, ``num_queries``, ``pixel_decoder``, ``enforce_decoder_input_
    project``, ``transformer_decoder``, ``positional_encoding``, the three
    losses, ``train_cfg`` (assigner, sampler), ``test_cfg``).
    """

    def __init__(
        self,
        in_channels,
        feat_channels,
        out_channels,
        num_things_classes=80,
        num_stuff_classes=53,
        num_queries=100,
        pixel_decoder=None,
        enforce_decoder_input_project=False,
        transformer_decoder=None,
        positional_encoding=None,
        loss_cls=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=1.0,
            class_weight=[1.0] * 133 + [0.1],
        ),
        loss_mask=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=20.0,
        ),
        loss_dice=dict(
            type='DiceLoss',
            use_sigmoid=True,
            activate=True,
            naive_dice=True,
            loss_weight=1.0,
        ),
        train_cfg=None,
        test_cfg=None,
        init_cfg=None,
        **kwargs,
    ):
        BaseDenseHead.__init__(self, init_cfg)
        self._set_classes(num_things_classes, num_stuff_classes, num_queries)
        self.pixel_decoder = build_plugin_layer(
            dict(
                pixel_decoder,
                in_channels=in_channels,
                feat_channels=feat_channels,
                out_channels=out_channels,
            )
        )[1]
        self.transformer_decoder = build_transformer_layer_sequence(
            transformer_decoder
        )
        self.decoder_embed_dims = self.transformer_decoder.embed_dims
        project = pixel_decoder.get('type') == 'PixelDecoder' and (
            enforce_decoder_input_project
            or self.decoder_embed_dims != in_channels[-1]
        )
        self.decoder_input_proj = (
            Conv2d(in_channels[-1], self.decoder_embed_dims, kernel_size=1)
            if project
            else nn.Identity()
        )
        self.decoder_pe = build_positional_encoding(positional_encoding)
        self.query_embed = nn.Embedding(num_queries, out_channels)
        self.cls_embed = nn.Linear(feat_channels, self.num_classes + 1)
        self.mask_embed = mask_embed_mlp(feat_channels, out_channels)
        self._set_train_test(train_cfg, test_cfg)
        self._set_losses(loss_cls, loss_mask, loss_dice)

    def _set_classes(self, num_things, num_stuff, num_queries):
        self.num_things_classes = num_things
        self.num_stuff_classes = num_stuff
        self.num_classes = num_things + num_stuff
        self.num_queries = num_queries

    def _set_train_test(self, train_cfg, test_cfg):
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        if train_cfg:
            self.assigner = build_assigner(train_cfg['assigner'])
            self.sampler = build_sampler(train_cfg['sampler'], context=self)

    def _set_losses(self, loss_cls, loss_mask, loss_dice):
        self.class_weight = loss_cls['class_weight']
        if len(self.class_weight) != self.num_classes + 1:
            raise InvalidArgumentError(
                f'{type(self).__name__}: loss_cls.class_weight needs '
                f'{self.num_classes + 1} values (the last: no object), got '
                f'{len(self.class_weight)}'
            )
        self.loss_cls = build_loss(loss_cls)
        self.loss_mask = build_loss(loss_mask)
        self.loss_dice = build_loss(loss_dice)

    def init_weights(self):
        if isinstance(self.decoder_input_proj, Conv2d):
            caffe2_xavier_init(self.decoder_input_proj, bias=0)
        self.pixel_decoder.init_weights()
        for p in self.transformer_decoder.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def preprocess_gt(
        self, gt_labels_list, gt_masks_list, gt_semantic_segs, img_metas
    ):
        """Per image: thing then stuff labels (K,) and masks (K, H, W)."""
        num = len(gt_labels_list)
        if gt_semantic_segs is None:
            gt_semantic_segs = [None] * num
        return multi_apply(
            preprocess_panoptic_gt,
            gt_labels_list,
            gt_masks_list,
            gt_semantic_segs,
            [self.num_things_classes] * num,
            [self.num_stuff_classes] * num,
            img_metas,
        )

    def get_targets(
        self,
        cls_scores_list,
        mask_preds_list,
        gt_labels_list,
        gt_masks_list,
        img_metas,
    ):
        """Per-image labels, label weights, mask targets and mask weights,
        and the total numbers of positive and negative queries."""
        (labels, label_weights, mask_targets, mask_weights, pos, neg) = (
            multi_apply(
                self._get_target_single,
                cls_scores_list,
                mask_preds_list,
                gt_labels_list,
                gt_masks_list,
                img_metas,
            )
        )
        num_pos = sum(x.numel() for x in pos)
        num_neg = sum(x.numel() for x in neg)
        return (
            labels,
            label_weights,
            mask_targets,
            mask_weights,
            num_pos,
            num_neg,
        )

    def _targets_of(self, sampling_result, gt_labels, gt_masks, mask_pred):
        """Targets of one image's queries from its sampling result."""
        num_queries = mask_pred.shape[0]
        pos_inds = sampling_result.pos_inds
        gt_inds = sampling_result.pos_assigned_gt_inds
        labels = gt_labels.new_full((num_queries,), self.num_classes)
        labels[pos_inds] = gt_labels[gt_inds]
        label_weights = gt_labels.new_ones((num_queries,))
        mask_weights = mask_pred.new_zeros((num_queries,))
        mask_weights[pos_inds] = 1.0
        return (
            labels,
            label_weights,
            gt_masks[gt_inds],
            mask_weights,
            pos_inds,
            sampling_result.neg_inds,
        )

    def _get_target_single(
        self, cls_score, mask_pred, gt_labels, gt_masks, img_metas
    ):
        """Match on the gt masks resized (nearest) to the predictions."""
        if gt_masks.shape[0] > 0:
            small = F.interpolate(
                gt_masks[:, None].float(), mask_pred.shape[-2:], mode='nearest'
            )[:, 0].long()
        else:
            small = gt_masks
        assign_result = self.assigner.assign(
            cls_score, mask_pred, gt_labels, small, img_metas
        )
        sampling = self.sampler.sample(assign_result, mask_pred, gt_masks)
        return self._targets_of(sampling, gt_labels, gt_masks, mask_pred)

    def loss(
        self,
        all_cls_scores,
        all_mask_preds,
        gt_labels_list,
        gt_masks_list,
        img_metas,
    ):
        """Losses of every decoder layer: the last as 'loss_cls',
        'loss_mask', 'loss_dice', layer i before it as 'd{i}.loss_...'."""
        num_layers = len(all_cls_scores)
        losses_cls, losses_mask, losses_dice = multi_apply(
            self.loss_single,
            all_cls_scores,
            all_mask_preds,
            [gt_labels_list] * num_layers,
            [gt_masks_list] * num_layers,
            [img_metas] * num_layers,
        )
        loss_dict = dict(
            loss_cls=losses_cls[-1],
            loss_mask=losses_mask[-1],
            loss_dice=losses_dice[-1],
        )
        layers = zip(losses_cls[:-1], losses_mask[:-1], losses_dice[:-1])
        for i, (cls, mask, dice) in enumerate(layers):
            loss_dict[f'd{i}.loss_cls'] = cls
            loss_dict[f'd{i}.loss_mask'] = mask
            loss_dict[f'd{i}.loss_dice'] = dice
        return loss_dict

    def _cls_loss_and_masks(
        self, cls_scores, mask_preds, gt_labels_list, gt_masks_list, img_metas
    ):
        """Class loss of one layer; the positive queries' masks, their
        targets and the (mean over GPUs, at least 1) number of masks."""
        num_imgs = cls_scores.size(0)
        labels, label_weights, mask_targets, mask_weights, num_pos, _ = (
            self.get_targets(
                [cls_scores[i] for i in range(num_imgs)],
                [mask_preds[i] for i in range(num_imgs)],
                gt_labels_list,
                gt_masks_list,
                img_metas,
            )
        )
        labels = torch.stack(labels).flatten(0, 1)
        label_weights = torch.stack(label_weights).flatten(0, 1)
        class_weight = cls_scores.new_tensor(self.class_weight)
        loss_cls = self.loss_cls(
            cls_scores.flatten(0, 1),
            labels,
            label_weights,
            avg_factor=class_weight[labels].sum(),
        )
        num_masks = reduce_mean(cls_scores.new_tensor([num_pos]))
        num_masks = max(num_masks, 1)
        pos_masks = mask_preds[torch.stack(mask_weights) > 0]
        return loss_cls, pos_masks, torch.cat(mask_targets), num_masks

    def loss_single(
        self, cls_scores, mask_preds, gt_labels_list, gt_masks_list, img_metas
    ):
        """One layer's (loss_cls, loss_mask, loss_dice): (B, Q, C+1)
        scores and (B, Q, h, w) masks; the masks are upsampled (bilinear)
        to the gt size."""
        loss_cls, preds, targets, num_masks = self._cls_loss_and_masks(
            cls_scores, mask_preds, gt_labels_list, gt_masks_list, img_metas
        )
        if targets.shape[0] == 0:
            return loss_cls, preds.sum(), preds.sum()
        preds = F.interpolate(
            preds[:, None],
            targets.shape[-2:],
            mode='bilinear',
            align_corners=False,
        )[:, 0]
        loss_dice = self.loss_dice(preds, targets, avg_factor=num_masks)
        h, w = preds.shape[-2:]
        # one-class focal loss: label 0 is the mask, 1 the background
        loss_mask = self.loss_mask(
            preds.reshape(-1, 1),
            1 - targets.reshape(-1),
            avg_factor=num_masks * h * w,
        )
        return loss_cls, loss_mask, loss_dice

    def forward(self, feats, img_metas):
        """Per decoder layer (B, Q, C+1) class logits and (B, Q, H0, W0)
        mask logits, stacked: (L, B, ...)."""
        bs = len(img_metas)
        padding = padding_mask_at(
            img_metas, feats[-1].shape[-2:], feats[-1].device
        )
        mask_features, memory = self.pixel_decoder(feats, img_metas)
        pos = self.decoder_pe(padding).flatten(2).permute(2, 0, 1)
        memory = self.decoder_input_proj(memory).flatten(2).permute(2, 0, 1)
        query_embed = self.query_embed.weight[:, None].repeat(1, bs, 1)
        out = self.transformer_decoder(
            query=torch.zeros_like(query_embed),
            key=memory,
            value=memory,
            key_pos=pos,
            query_pos=query_embed,
            key_padding_mask=padding.flatten(1),
        ).transpose(1, 2)
        mask_embed = self.mask_embed(out)
        masks = torch.einsum('lbqc,bchw->lbqhw', mask_embed, mask_features)
        return self.cls_embed(out), masks

    def forward_train(
        self,
        feats,
        img_metas,
        gt_bboxes,
        gt_labels,
        gt_masks,
        gt_semantic_seg,
        gt_bboxes_ignore=None,
    ):
        """Losses of a batch; ``gt_semantic_seg`` None for instance-only
        training. ``gt_bboxes`` is unused (the masks carry the objects)."""
        if gt_bboxes_ignore is not None:
            raise InvalidArgumentError(
                f'{type(self).__name__}: gt_bboxes_ignore is not supported'
            )
        all_cls_scores, all_mask_preds = self(feats, img_metas)
        labels, masks = self.preprocess_gt(
            gt_labels, gt_masks, gt_semantic_seg, img_metas
        )
        return self.loss(
            all_cls_scores, all_mask_preds, labels, masks, img_metas
        )

    def simple_test(self, feats, img_metas, **kwargs):
        """The last layer's (B, Q, C+1) class logits and (B, Q, H, W) mask
        logits upsampled (bilinear) to the batch input size."""
        all_cls_scores, all_mask_preds = self(feats, img_metas)
        size = tuple(img_metas[0]['batch_input_shape'][:2])
        masks = F.interpolate(
            all_mask_preds[-1],
            size=size,
            mode='bilinear',
            align_corners=False,
        )
        return all_cls_scores[-1], masks
