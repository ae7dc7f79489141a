# Quick start: DETR with an ODConv (4x) MobileNetV2 (0.5x), trained FROM
# SCRATCH on the generated tiny COCO-format set (tools/misc/make_tiny_coco.py,
# 400 train / 100 val images of 128 px, 4 classes, objects of 20-50 px), on
# the CPU.
#
#   python tools/train.py configs/quickstart/detr_odconv_mobilenetv2_tiny_coco.py
#
# DETR learns slowly: MMDetection trains it 150 epochs on COCO from an
# ImageNet backbone. This config is a short, honest tiny-set run of the
# same model (Hungarian matching, set loss, transformer), not tuned to a
# target; what it reaches is in docs/changelog.md. The backbone,
# temperature, warm-up and thread settings are those of
# mask_rcnn_odconv_mobilenetv2_tiny_coco.py. Specific:
# - The backbone's last map (stride 32: 4x4 tokens of 1280 channels),
#   projected to a 64-channel transformer of 2 encoder and 2 decoder layers
#   (4 heads, 128-channel FFN), 20 queries (images hold 1-3 objects).
# - AdamW lr 2e-4, gradient clipping 0.1 as DETR, 24 epochs.
_base_ = [
    '../_base_/datasets/tiny_coco_detection.py',
    '../_base_/quickstart_runtime.py',
]
embed_dims = 64
attn = dict(
    type='MultiheadAttention',
    embed_dims=embed_dims,
    num_heads=4,
    dropout=0.1,
)
ffn = dict(
    type='FFN',
    embed_dims=embed_dims,
    feedforward_channels=128,
    num_fcs=2,
    ffn_drop=0.1,
    act_cfg=dict(type='ReLU', inplace=True),
)
model = dict(
    type='DETR',
    backbone=dict(
        type='OD_MobileNetV2',
        width_mult=0.5,
        reduction=0.0625,
        kernel_num=4,
        temperature=10.0,
        out_indices=(4,),
        frozen_stages=-1,
        norm_eval=False,
        pretrained=None,
    ),
    bbox_head=dict(
        type='DETRHead',
        num_classes=4,
        in_channels=1280,
        num_query=20,
        transformer=dict(
            type='Transformer',
            encoder=dict(
                type='DetrTransformerEncoder',
                num_layers=2,
                transformerlayers=dict(
                    type='BaseTransformerLayer',
                    attn_cfgs=[attn],
                    ffn_cfgs=ffn,
                    operation_order=('self_attn', 'norm', 'ffn', 'norm'),
                ),
            ),
            decoder=dict(
                type='DetrTransformerDecoder',
                return_intermediate=True,
                num_layers=2,
                transformerlayers=dict(
                    type='DetrTransformerDecoderLayer',
                    attn_cfgs=attn,
                    # a required argument of this layer, also in ffn
                    feedforward_channels=128,
                    ffn_cfgs=ffn,
                    operation_order=(
                        'self_attn',
                        'norm',
                        'cross_attn',
                        'norm',
                        'ffn',
                        'norm',
                    ),
                ),
            ),
        ),
        positional_encoding=dict(
            type='SinePositionalEncoding',
            num_feats=embed_dims // 2,
            normalize=True,
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
    ),
    train_cfg=dict(
        assigner=dict(
            type='HungarianAssigner',
            cls_cost=dict(type='ClassificationCost', weight=1.0),
            reg_cost=dict(type='BBoxL1Cost', weight=5.0, box_format='xywh'),
            iou_cost=dict(type='IoUCost', iou_mode='giou', weight=2.0),
        )
    ),
    test_cfg=dict(max_per_img=20),
)

optimizer = dict(
    _delete_=True,  # not the base's SGD keys (momentum)
    type='AdamW',
    lr=2e-4,
    weight_decay=0.0001,
)
optimizer_config = dict(grad_clip=dict(max_norm=0.1, norm_type=2))
lr_config = dict(step=[20])  # the rest: quickstart_runtime.py
runner = dict(type='EpochBasedRunner', max_epochs=24)
checkpoint_config = dict(interval=4, max_keep_ckpts=2)
evaluation = dict(interval=4, metric='bbox')
