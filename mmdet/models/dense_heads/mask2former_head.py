"""Mask2Former's head: masked attention, one feature level per decoder
layer (round robin), and losses on sampled points."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import Conv2d, build_plugin_layer, caffe2_xavier_init
from mmcv.cnn.bricks.transformer import (
    build_positional_encoding,
    build_transformer_layer_sequence,
)
from mmcv.runner import ModuleList

from mmdet.utils.arg_errors import check_arg
from ..builder import HEADS
from ..utils.point_sample import (
    get_uncertain_point_coords_with_randomness,
    point_sample,
)
from .base_dense_head import BaseDenseHead
from .maskformer_head import MaskFormerHead, mask_embed_mlp


@HEADS.register_module()
class Mask2FormerHead(MaskFormerHead):
    """Mask2Former's head; arguments as ``MaskFormerHead``'s plus
    ``num_transformer_feat_level`` (the pixel decoder's output levels the
    decoder layers attend to, which must equal its encoder's levels) and
    ``train_cfg`` keys ``num_points``, ``oversample_ratio``,
    ``importance_sample_ratio``."""

    def __init__(
        self,
        in_channels,
        feat_channels,
        out_channels,
        num_things_classes=80,
        num_stuff_classes=53,
        num_queries=100,
        num_transformer_feat_level=3,
        pixel_decoder=None,
        enforce_decoder_input_project=False,
        transformer_decoder=None,
        positional_encoding=None,
        loss_cls=None,
        loss_mask=None,
        loss_dice=None,
        train_cfg=None,
        test_cfg=None,
        init_cfg=None,
        **kwargs,
    ):
        BaseDenseHead.__init__(self, init_cfg)
        self._set_classes(num_things_classes, num_stuff_classes, num_queries)
        self.num_transformer_feat_level = num_transformer_feat_level
        layer_cfg = transformer_decoder['transformerlayers']
        self.num_heads = layer_cfg['attn_cfgs']['num_heads']
        self.num_transformer_decoder_layers = transformer_decoder['num_layers']
        encoder_levels = pixel_decoder['encoder']['transformerlayers'][
            'attn_cfgs'
        ]['num_levels']
        check_arg(
            encoder_levels == num_transformer_feat_level,
            'Mask2FormerHead',
            f'the pixel decoder encodes {encoder_levels} levels, '
            f'num_transformer_feat_level is {num_transformer_feat_level}',
        )
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
        project = (
            enforce_decoder_input_project
            or self.decoder_embed_dims != feat_channels
        )
        self.decoder_input_projs = ModuleList(
            Conv2d(feat_channels, self.decoder_embed_dims, kernel_size=1)
            if project
            else nn.Identity()
            for _ in range(num_transformer_feat_level)
        )
        self.decoder_positional_encoding = build_positional_encoding(
            positional_encoding
        )
        self.query_embed = nn.Embedding(num_queries, feat_channels)
        self.query_feat = nn.Embedding(num_queries, feat_channels)
        self.level_embed = nn.Embedding(
            num_transformer_feat_level, feat_channels
        )
        self.cls_embed = nn.Linear(feat_channels, self.num_classes + 1)
        self.mask_embed = mask_embed_mlp(feat_channels, out_channels)
        self._set_train_test(train_cfg, test_cfg)
        if train_cfg:
            self.num_points = train_cfg.get('num_points', 12544)
            self.oversample_ratio = train_cfg.get('oversample_ratio', 3.0)
            self.importance_sample_ratio = train_cfg.get(
                'importance_sample_ratio', 0.75
            )
        self._set_losses(loss_cls, loss_mask, loss_dice)

    def init_weights(self):
        for m in self.decoder_input_projs:
            if isinstance(m, Conv2d):
                caffe2_xavier_init(m, bias=0)
        self.pixel_decoder.init_weights()
        for p in self.transformer_decoder.parameters():
            if p.dim() > 1:
                nn.init.xavier_normal_(p)

    def _get_target_single(
        self, cls_score, mask_pred, gt_labels, gt_masks, img_metas
    ):
        """Match on ``num_points`` random points shared by all masks."""
        points = torch.rand((1, self.num_points, 2), device=cls_score.device)
        pred_points = point_sample(
            mask_pred[:, None], points.repeat(mask_pred.shape[0], 1, 1)
        )[:, 0]
        gt_points = point_sample(
            gt_masks[:, None].float(), points.repeat(gt_masks.shape[0], 1, 1)
        )[:, 0]
        assign_result = self.assigner.assign(
            cls_score, pred_points, gt_labels, gt_points, img_metas
        )
        sampling = self.sampler.sample(assign_result, mask_pred, gt_masks)
        return self._targets_of(sampling, gt_labels, gt_masks, mask_pred)

    def loss_single(
        self, cls_scores, mask_preds, gt_labels_list, gt_masks_list, img_metas
    ):
        """One layer's (loss_cls, loss_mask, loss_dice); the mask losses
        on ``num_points`` points per mask, mostly the most uncertain."""
        loss_cls, preds, targets, num_masks = self._cls_loss_and_masks(
            cls_scores, mask_preds, gt_labels_list, gt_masks_list, img_metas
        )
        if targets.shape[0] == 0:
            return loss_cls, preds.sum(), preds.sum()
        with torch.no_grad():
            points = get_uncertain_point_coords_with_randomness(
                preds[:, None],
                None,
                self.num_points,
                self.oversample_ratio,
                self.importance_sample_ratio,
            )
            point_targets = point_sample(targets[:, None].float(), points)
        point_preds = point_sample(preds[:, None], points)[:, 0]
        loss_dice = self.loss_dice(
            point_preds, point_targets[:, 0], avg_factor=num_masks
        )
        loss_mask = self.loss_mask(
            point_preds.reshape(-1),
            point_targets.reshape(-1),
            avg_factor=num_masks * self.num_points,
        )
        return loss_cls, loss_mask, loss_dice

    def forward_head(self, decoder_out, mask_feature, attn_mask_target_size):
        """(Q, B, C) queries -> (B, Q, C+1) class logits, (B, Q, H0, W0)
        mask logits and the next layer's attention mask (B*heads, Q, h*w),
        True where the query's mask is below 0.5 at ``attn_mask_target_
        size``."""
        out = self.transformer_decoder.post_norm(decoder_out).transpose(0, 1)
        cls_pred = self.cls_embed(out)
        mask_embed = self.mask_embed(out)
        mask_pred = torch.einsum('bqc,bchw->bqhw', mask_embed, mask_feature)
        attn_mask = F.interpolate(
            mask_pred,
            attn_mask_target_size,
            mode='bilinear',
            align_corners=False,
        )
        attn_mask = attn_mask.flatten(2)[:, None]
        attn_mask = attn_mask.repeat(1, self.num_heads, 1, 1).flatten(0, 1)
        return cls_pred, mask_pred, (attn_mask.sigmoid() < 0.5).detach()

    def _decoder_inputs(self, memorys, bs):
        """Per level: (h*w, B, C) tokens plus the level embedding, and their
        sine positions (h*w, B, C)."""
        inputs, positions = [], []
        for i, memory in enumerate(memorys):
            tokens = self.decoder_input_projs[i](memory)
            tokens = tokens.flatten(2).permute(2, 0, 1)
            inputs.append(tokens + self.level_embed.weight[i].view(1, 1, -1))
            no_padding = memory.new_zeros(
                (bs,) + memory.shape[-2:], dtype=torch.bool
            )
            pos = self.decoder_positional_encoding(no_padding)
            positions.append(pos.flatten(2).permute(2, 0, 1))
        return inputs, positions

    def forward(self, feats, img_metas):
        """Lists of (B, Q, C+1) class logits and (B, Q, H0, W0) mask logits:
        the prediction before the first decoder layer, then one per
        layer."""
        bs = len(img_metas)
        mask_features, memorys = self.pixel_decoder(feats)
        inputs, positions = self._decoder_inputs(memorys, bs)
        query_feat = self.query_feat.weight[:, None].repeat(1, bs, 1)
        query_embed = self.query_embed.weight[:, None].repeat(1, bs, 1)
        num_levels = self.num_transformer_feat_level
        cls_pred, mask_pred, attn_mask = self.forward_head(
            query_feat, mask_features, memorys[0].shape[-2:]
        )
        cls_preds, mask_preds = [cls_pred], [mask_pred]
        for i, layer in enumerate(self.transformer_decoder.layers):
            level = i % num_levels
            # a query masked everywhere attends everywhere instead
            attn_mask[attn_mask.all(-1)] = False
            query_feat = layer(
                query=query_feat,
                key=inputs[level],
                value=inputs[level],
                query_pos=query_embed,
                key_pos=positions[level],
                attn_masks=[attn_mask, None],
                query_key_padding_mask=None,
                key_padding_mask=None,
            )
            next_size = memorys[(i + 1) % num_levels].shape[-2:]
            cls_pred, mask_pred, attn_mask = self.forward_head(
                query_feat, mask_features, next_size
            )
            cls_preds.append(cls_pred)
            mask_preds.append(mask_pred)
        return cls_preds, mask_preds
