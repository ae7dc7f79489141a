from .accuracy import Accuracy, accuracy
from .cross_entropy_loss import (
    CrossEntropyLoss,
    binary_cross_entropy,
    cross_entropy,
    mask_cross_entropy,
)
from .focal_loss import FocalLoss, sigmoid_focal_loss
from .iou_loss import GIoULoss, IoULoss, giou_loss, iou_loss
from .mse_loss import MSELoss, mse_loss
from .smooth_l1_loss import L1Loss, SmoothL1Loss, l1_loss, smooth_l1_loss
from .utils import reduce_loss, weight_reduce_loss, weighted_loss

__all__ = [
    'MSELoss',
    'mse_loss',
    'accuracy',
    'Accuracy',
    'cross_entropy',
    'binary_cross_entropy',
    'mask_cross_entropy',
    'CrossEntropyLoss',
    'smooth_l1_loss',
    'SmoothL1Loss',
    'l1_loss',
    'L1Loss',
    'reduce_loss',
    'weight_reduce_loss',
    'weighted_loss',
    'FocalLoss',
    'sigmoid_focal_loss',
    'IoULoss',
    'GIoULoss',
    'iou_loss',
    'giou_loss',
]
