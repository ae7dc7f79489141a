# Quick start: PointRend with an ODConv (4x) MobileNetV2 (0.5x), trained FROM
# SCRATCH on the generated tiny COCO-format set (tools/misc/make_tiny_coco.py;
# 400 train / 100 val images of 128 px, 4 classes).
#
#   python tools/train.py configs/quickstart/point_rend_odconv_mobilenetv2_tiny_coco.py
#
# mask_rcnn_odconv_mobilenetv2_tiny_coco.py (its comments say why each
# setting) with PointRend's mask branch: a 7x7 coarse mask from 14x14
# stride-4 features (fc head, 256 units) refined at its most uncertain
# points by a 3-layer 64-channel point head; 14x14 training points per RoI.
_base_ = './mask_rcnn_odconv_mobilenetv2_tiny_coco.py'
model = dict(
    type='PointRend',
    roi_head=dict(
        type='PointRendRoIHead',
        mask_roi_extractor=dict(
            type='GenericRoIExtractor',
            aggregation='concat',
            roi_layer=dict(
                _delete_=True, type='SimpleRoIAlign', output_size=14
            ),
            out_channels=64,
            featmap_strides=[4],
        ),
        mask_head=dict(
            _delete_=True,
            type='CoarseMaskHead',
            num_fcs=2,
            in_channels=64,
            conv_out_channels=64,
            fc_out_channels=256,
            num_classes=4,
            loss_mask=dict(
                type='CrossEntropyLoss', use_mask=True, loss_weight=1.0
            ),
        ),
        point_head=dict(
            type='MaskPointHead',
            num_fcs=3,
            in_channels=64,
            fc_channels=64,
            num_classes=4,
            coarse_pred_each_layer=True,
            loss_point=dict(
                type='CrossEntropyLoss', use_mask=True, loss_weight=1.0
            ),
        ),
    ),
    train_cfg=dict(
        rcnn=dict(
            mask_size=7,
            num_points=14 * 14,
            oversample_ratio=3,
            importance_sample_ratio=0.75,
        )
    ),
    test_cfg=dict(
        rcnn=dict(
            subdivision_steps=5, subdivision_num_points=28 * 28, scale_factor=2
        )
    ),
)
