# SABL Faster R-CNN, ResNet-50 + FPN, COCO 1x: a SABLHead box head
# (MMDetection's sabl/sabl_faster_rcnn_r50_fpn_1x_coco.py).
_base_ = [
    '../_base_/models/faster_rcnn_r50_fpn.py',
    '../_base_/datasets/coco_detection.py',
    '../_base_/schedules/schedule_1x.py',
    '../_base_/default_runtime.py',
]
sabl_head = dict(
    type='SABLHead',
    num_classes=80,
    cls_in_channels=256,
    reg_in_channels=256,
    roi_feat_size=7,
    reg_feat_up_ratio=2,
    reg_pre_kernel=3,
    reg_post_kernel=3,
    reg_pre_num=2,
    reg_post_num=1,
    cls_out_channels=1024,
    reg_offset_out_channels=256,
    reg_cls_out_channels=256,
    num_cls_fcs=1,
    num_reg_fcs=0,
    reg_class_agnostic=True,
    norm_cfg=None,
    bbox_coder=dict(
        type='BucketingBBoxCoder', num_buckets=14, scale_factor=1.7
    ),
    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    loss_bbox_cls=dict(
        type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0
    ),
    loss_bbox_reg=dict(type='SmoothL1Loss', beta=0.1, loss_weight=1.0),
)
model = dict(roi_head=dict(bbox_head=dict(_delete_=True, **sabl_head)))
