# Mask R-CNN with Seesaw loss, ODConv (4x) ResNet-50 + FPN, LVIS v1 2x:
# MMDetection's seesaw_loss/mask_rcnn_r50_fpn_random_seesaw_loss_mstrain_2x_lvis_v1.py
# with its backbone replaced by the ODConv one.
_base_ = (
    '../seesaw_loss/mask_rcnn_r50_fpn_random_seesaw_loss_mstrain_2x_lvis_v1.py'  # noqa: E501
)
model = dict(
    pretrained='checkpoints/imagenet/od_resnet50_4x.pth',
    backbone=dict(
        _delete_=True,
        type='OD_ResNet',
        depth=50,
        reduction=0.0625,
        kernel_num=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_eval=True,
    ),
)
find_unused_parameters = True
