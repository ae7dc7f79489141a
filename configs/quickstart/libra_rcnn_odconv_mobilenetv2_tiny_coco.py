# Quick start: Libra R-CNN (Faster R-CNN with a balanced feature pyramid,
# IoU-balanced sampling and the balanced L1 loss) with an ODConv (4x)
# MobileNetV2 (0.5x), trained FROM SCRATCH on the generated tiny
# COCO-format set (tools/misc/make_tiny_coco.py; 400 train / 100 val images
# of 128 px, 4 classes).
#
#   python tools/train.py configs/quickstart/libra_rcnn_odconv_mobilenetv2_tiny_coco.py
#
# Backbone, neck width, optimizer, temperature schedule and threads are
# those of mask_rcnn_odconv_mobilenetv2_tiny_coco.py (its comments say why);
# Libra's parts are MMDetection's libra_faster_rcnn_r50_fpn_1x_coco.py at
# 64 channels, with 128 RoIs sampled per image.
_base_ = [
    '../_base_/models/faster_rcnn_r50_fpn.py',
    '../_base_/datasets/tiny_coco_detection.py',
    '../_base_/quickstart_runtime.py',
]
model = dict(
    backbone=dict(
        _delete_=True,
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
    neck=[
        dict(
            type='FPN',
            in_channels=[16, 16, 48, 1280],
            out_channels=64,
            num_outs=5,
        ),
        dict(
            type='BFP',
            in_channels=64,
            num_levels=5,
            refine_level=2,
            refine_type='non_local',
        ),
    ],
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(
            in_channels=64,
            fc_out_channels=256,
            num_classes=4,
            loss_bbox=dict(
                _delete_=True,
                type='BalancedL1Loss',
                alpha=0.5,
                gamma=1.5,
                beta=1.0,
                loss_weight=1.0,
            ),
        ),
    ),
    train_cfg=dict(
        rpn=dict(sampler=dict(neg_pos_ub=5), allowed_border=-1),
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(
            sampler=dict(
                _delete_=True,
                type='CombinedSampler',
                num=128,
                pos_fraction=0.25,
                add_gt_as_proposals=True,
                pos_sampler=dict(type='InstanceBalancedPosSampler'),
                neg_sampler=dict(
                    type='IoUBalancedNegSampler',
                    floor_thr=-1,
                    floor_fraction=0,
                    num_bins=3,
                ),
            )
        ),
    ),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=200)),
)

optimizer = dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001)
evaluation = dict(interval=2, metric='bbox')
