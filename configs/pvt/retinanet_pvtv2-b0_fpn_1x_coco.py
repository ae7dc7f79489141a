_base_ = [
    '../_base_/models/retinanet_r50_fpn.py',
    '../_base_/datasets/coco_detection.py',
    '../_base_/schedules/schedule_1x.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='RetinaNet',
    backbone=dict(
        _delete_=True,
        type='PyramidVisionTransformerV2',
        embed_dims=32,
        num_layers=[2, 2, 2, 2],
        # the PVT authors' ImageNet-1k PVTv2-b0 (keys converted on loading)
        init_cfg=dict(
            checkpoint='https://github.com/whai362/PVT/'
            'releases/download/v2/pvt_v2_b0.pth'
        ),
    ),
    neck=dict(in_channels=[32, 64, 160, 256]),
)
optimizer = dict(_delete_=True, type='AdamW', lr=0.0001, weight_decay=0.0001)
