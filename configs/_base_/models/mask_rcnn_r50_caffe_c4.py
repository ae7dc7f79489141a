# Mask R-CNN on C4: Faster R-CNN C4 whose mask head reuses the box branch's
# pooled features after the shared head (no mask RoI extractor of its own).
_base_ = './faster_rcnn_r50_caffe_c4.py'
model = dict(
    type='MaskRCNN',
    roi_head=dict(
        shared_head=dict(init_cfg=None),
        mask_roi_extractor=None,
        mask_head=dict(
            type='FCNMaskHead',
            num_convs=0,
            in_channels=2048,
            conv_out_channels=256,
            num_classes=80,
            loss_mask=dict(
                type='CrossEntropyLoss', use_mask=True, loss_weight=1.0
            ),
        ),
    ),
    train_cfg=dict(rpn=dict(allowed_border=0), rcnn=dict(mask_size=14)),
    test_cfg=dict(rcnn=dict(mask_thr_binary=0.5)),
)
