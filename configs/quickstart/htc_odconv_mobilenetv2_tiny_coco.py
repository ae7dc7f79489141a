# Quick start: Hybrid Task Cascade (without the semantic branch) with an
# ODConv (4x) MobileNetV2 (0.5x), trained FROM SCRATCH on the generated tiny
# COCO-format set (tools/misc/make_tiny_coco.py; 400 train / 100 val images
# of 128 px, 4 classes).
#
#   python tools/train.py configs/quickstart/htc_odconv_mobilenetv2_tiny_coco.py
#
# Everything but the RoI head is cascade_mask_rcnn_odconv_mobilenetv2_tiny_
# coco.py (backbone, neck, three box stages, optimizer, temperature schedule,
# threads; its comments say why). HTC interleaves the box and mask stages
# and passes each stage's mask features to the next (mask information flow);
# its mask heads are narrow like the other quick starts' (2 convs, 64
# channels). The tiny set has no stuff maps, so there is no semantic branch.
_base_ = './cascade_mask_rcnn_odconv_mobilenetv2_tiny_coco.py'
_mask_head = dict(
    type='HTCMaskHead',
    num_convs=2,
    in_channels=64,
    conv_out_channels=64,
    num_classes=4,
    loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0),
)
model = dict(
    type='HybridTaskCascade',
    roi_head=dict(
        type='HybridTaskCascadeRoIHead',
        interleaved=True,
        mask_info_flow=True,
        mask_head=[
            dict(_mask_head, with_conv_res=False),
            _mask_head,
            _mask_head,
        ],
    ),
)
