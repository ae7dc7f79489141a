# Quick start: Sparse R-CNN with an ODConv (4x) MobileNetV2 (0.5x), trained
# FROM SCRATCH on the generated tiny COCO-format set
# (tools/misc/make_tiny_coco.py, 128 px images, 4 classes), on the CPU.
#
#   python tools/train.py configs/quickstart/sparse_rcnn_odconv_mobilenetv2_tiny_coco.py
#
# Backbone, temperature, warm-up and thread settings as in
# mask_rcnn_odconv_mobilenetv2_tiny_coco.py (why: see there). Specific:
# - Narrow: 64-channel FPN, proposal features and dynamic convs (16 inner
#   channels), 256-unit FFNs, 3 stages and 20 learned proposals instead of
#   6 x 100 (images hold 1-3 objects).
# - AdamW with Sparse R-CNN's clipping (max_norm 1), lr 5e-4 for 4 images
#   (the stock 2.5e-5 is for 16 images and a pretrained backbone), 24
#   epochs: with lr 1e-4 and 8 epochs the set-prediction heads had only
#   reached 0.076 bbox mAP (still rising).
_base_ = [
    '../_base_/datasets/tiny_coco_detection.py',
    '../_base_/quickstart_runtime.py',
]
num_stages = 3
num_proposals = 20
stage_head = dict(
    type='DIIHead',
    num_classes=4,
    num_ffn_fcs=2,
    num_heads=8,
    num_cls_fcs=1,
    num_reg_fcs=3,
    feedforward_channels=256,
    in_channels=64,
    dropout=0.0,
    ffn_act_cfg=dict(type='ReLU', inplace=True),
    dynamic_conv_cfg=dict(
        type='DynamicConv',
        in_channels=64,
        feat_channels=16,
        out_channels=64,
        input_feat_shape=7,
        act_cfg=dict(type='ReLU', inplace=True),
        norm_cfg=dict(type='LN'),
    ),
    loss_bbox=dict(type='L1Loss', loss_weight=5.0),
    loss_iou=dict(type='GIoULoss', loss_weight=2.0),
    loss_cls=dict(
        type='FocalLoss',
        use_sigmoid=True,
        gamma=2.0,
        alpha=0.25,
        loss_weight=2.0,
    ),
    bbox_coder=dict(
        type='DeltaXYWHBBoxCoder',
        clip_border=False,
        target_means=[0.0, 0.0, 0.0, 0.0],
        target_stds=[0.5, 0.5, 1.0, 1.0],
    ),
)
stage_train_cfg = dict(
    assigner=dict(
        type='HungarianAssigner',
        cls_cost=dict(type='FocalLossCost', weight=2.0),
        reg_cost=dict(type='BBoxL1Cost', weight=5.0),
        iou_cost=dict(type='IoUCost', iou_mode='giou', weight=2.0),
    ),
    sampler=dict(type='PseudoSampler'),
    pos_weight=1,
)
model = dict(
    type='SparseRCNN',
    backbone=dict(
        type='OD_MobileNetV2',
        width_mult=0.5,
        reduction=0.0625,
        kernel_num=4,
        temperature=10.0,
        out_indices=(1, 2, 3, 4),
        frozen_stages=-1,
        norm_eval=False,
        pretrained=None,
    ),
    neck=dict(
        type='FPN',
        in_channels=[16, 16, 48, 1280],
        out_channels=64,
        start_level=0,
        add_extra_convs='on_input',
        num_outs=4,
    ),
    rpn_head=dict(
        type='EmbeddingRPNHead',
        num_proposals=num_proposals,
        proposal_feature_channel=64,
    ),
    roi_head=dict(
        type='SparseRoIHead',
        num_stages=num_stages,
        stage_loss_weights=[1] * num_stages,
        proposal_feature_channel=64,
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2),
            out_channels=64,
            featmap_strides=[4, 8, 16, 32],
        ),
        bbox_head=[stage_head for _ in range(num_stages)],
    ),
    train_cfg=dict(rpn=None, rcnn=[stage_train_cfg] * num_stages),
    test_cfg=dict(rpn=None, rcnn=dict(max_per_img=num_proposals)),
)

optimizer = dict(
    _delete_=True,  # not the base's SGD keys (momentum)
    type='AdamW',
    lr=5e-4,
    weight_decay=0.0001,
)
optimizer_config = dict(grad_clip=dict(max_norm=1, norm_type=2))
lr_config = dict(step=[20])  # the rest: quickstart_runtime.py
runner = dict(type='EpochBasedRunner', max_epochs=24)
checkpoint_config = dict(interval=4, max_keep_ckpts=2)
evaluation = dict(interval=4, metric='bbox')
