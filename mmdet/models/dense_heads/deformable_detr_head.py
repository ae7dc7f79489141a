"""Deformable DETR's head (MMDetection 2.x ``DeformableDETRHead``): DETR's
losses and test-time selection over a multi-level deformable transformer,
with per-decoder-layer class and box branches (shared, or separate with
``with_box_refine``) and, with ``as_two_stage``, queries taken from the
encoder's best proposals (their ``enc_loss_*`` class-agnostic)."""

import copy

import torch
import torch.nn as nn
from mmcv.cnn import Linear, bias_init_with_prob, constant_init
from mmcv.runner import force_fp32

from ..builder import HEADS
from ..utils.transformer import inverse_sigmoid
from .detr_head import DETRHead, padding_masks, resize_mask


def _box_branch(embed_dims, num_fcs):
    """``num_fcs`` x (Linear, ReLU), then Linear to 4 box logits."""
    layers = []
    for _ in range(num_fcs):
        layers += [Linear(embed_dims, embed_dims), nn.ReLU()]
    return nn.Sequential(*layers, Linear(embed_dims, 4))


@HEADS.register_module()
class DeformableDETRHead(DETRHead):
    """Args as DETRHead's, plus ``with_box_refine`` (each decoder layer
    refines the previous layer's boxes with its own branches) and
    ``as_two_stage`` (set on the transformer too)."""

    def __init__(
        self,
        *args,
        with_box_refine=False,
        as_two_stage=False,
        transformer=None,
        **kwargs,
    ):
        self.with_box_refine = with_box_refine
        self.as_two_stage = as_two_stage
        if as_two_stage:
            transformer['as_two_stage'] = as_two_stage
        super().__init__(*args, transformer=transformer, **kwargs)

    def _init_layers(self):
        c = self.embed_dims
        num_pred = self.transformer.decoder.num_layers + self.as_two_stage
        fc_cls = Linear(c, self.cls_out_channels)
        reg_branch = _box_branch(c, self.num_reg_fcs)
        if self.with_box_refine:
            cls = [copy.deepcopy(fc_cls) for _ in range(num_pred)]
            reg = [copy.deepcopy(reg_branch) for _ in range(num_pred)]
        else:  # one module, listed num_pred times (shared weights)
            cls, reg = [fc_cls] * num_pred, [reg_branch] * num_pred
        self.cls_branches = nn.ModuleList(cls)
        self.reg_branches = nn.ModuleList(reg)
        if not self.as_two_stage:
            self.query_embedding = nn.Embedding(self.num_query, c * 2)

    def init_weights(self):
        """Transformer init; class biases at prior 0.01 (sigmoid), box
        branches' last layers zero except the first's size bias at -2."""
        self.transformer.init_weights()
        if self.loss_cls.use_sigmoid:
            for m in self.cls_branches:
                nn.init.constant_(m.bias, bias_init_with_prob(0.01))
        for m in self.reg_branches:
            constant_init(m[-1], 0, bias=0)
        nn.init.constant_(self.reg_branches[0][-1].bias.data[2:], -2.0)
        if self.as_two_stage:
            for m in self.reg_branches:
                nn.init.constant_(m[-1].bias.data[2:], 0.0)

    def forward(self, mlvl_feats, img_metas):
        """Returns ``(all_cls_scores (num_dec, bs, num_query, C),
        all_bbox_preds (num_dec, bs, num_query, 4) sigmoid cxcywh,
        enc_cls_scores, enc_bbox_preds)``; the last two ``(bs, num_keys,
        ...)`` with ``as_two_stage``, else None."""
        img_masks = padding_masks(img_metas, mlvl_feats[0])
        masks = [resize_mask(img_masks, f.shape[-2:]) for f in mlvl_feats]
        pos = [self.positional_encoding(m) for m in masks]
        query_embeds = None
        if not self.as_two_stage:
            query_embeds = self.query_embedding.weight
        hs, init_reference, inter_references, enc_cls, enc_coord = (
            self.transformer(
                mlvl_feats,
                masks,
                query_embeds,
                pos,
                reg_branches=(
                    self.reg_branches if self.with_box_refine else None
                ),
                cls_branches=self.cls_branches if self.as_two_stage else None,
            )
        )
        hs = hs.permute(0, 2, 1, 3)
        references = [init_reference] + list(inter_references[:-1])
        classes, coords = [], []
        for lvl in range(hs.shape[0]):
            classes.append(self.cls_branches[lvl](hs[lvl]))
            coords.append(
                self._refined_boxes(
                    self.reg_branches[lvl](hs[lvl]), references[lvl]
                )
            )
        if self.as_two_stage:
            enc_coord = enc_coord.sigmoid()
        return torch.stack(classes), torch.stack(coords), enc_cls, enc_coord

    @staticmethod
    def _refined_boxes(delta, reference):
        """sigmoid(delta + logit(reference)); a 2-d reference moves only
        the centre."""
        ref = inverse_sigmoid(reference)
        pad = delta.new_zeros(*ref.shape[:-1], 4 - ref.shape[-1])
        return (delta + torch.cat([ref, pad], -1)).sigmoid()

    @force_fp32(apply_to=('all_cls_scores', 'all_bbox_preds'))
    def loss(
        self,
        all_cls_scores,
        all_bbox_preds,
        enc_cls_scores,
        enc_bbox_preds,
        gt_bboxes_list,
        gt_labels_list,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """Every decoder layer's losses, and with ``as_two_stage`` the
        encoder proposals' ``enc_loss_*`` against class-agnostic gts."""
        losses = {}
        if enc_cls_scores is not None:
            binary_labels = [torch.zeros_like(g) for g in gt_labels_list]
            enc = self.loss_single(
                enc_cls_scores,
                enc_bbox_preds,
                gt_bboxes_list,
                binary_labels,
                img_metas,
                gt_bboxes_ignore,
            )
            for name, value in zip(('cls', 'bbox', 'iou'), enc):
                losses[f'enc_loss_{name}'] = value
        losses.update(
            self._layer_losses(
                all_cls_scores,
                all_bbox_preds,
                gt_bboxes_list,
                gt_labels_list,
                img_metas,
                gt_bboxes_ignore,
            )
        )
        return losses

    @force_fp32(apply_to=('all_cls_scores', 'all_bbox_preds'))
    def get_bboxes(
        self,
        all_cls_scores,
        all_bbox_preds,
        enc_cls_scores,
        enc_bbox_preds,
        img_metas,
        rescale=False,
    ):
        """Per image ``(det_bboxes (k, 5), det_labels (k,))`` from the last
        decoder layer."""
        return self._last_layer_bboxes(
            all_cls_scores[-1], all_bbox_preds[-1], img_metas, rescale
        )
