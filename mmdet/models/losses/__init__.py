from .accuracy import Accuracy, accuracy
from .ae_loss import AssociativeEmbeddingLoss, ae_loss_per_image
from .balanced_l1_loss import BalancedL1Loss, balanced_l1_loss
from .cross_entropy_loss import (
    CrossEntropyLoss,
    binary_cross_entropy,
    cross_entropy,
    mask_cross_entropy,
)
from .dice_loss import DiceLoss, dice_loss
from .focal_loss import FocalLoss, sigmoid_focal_loss
from .gaussian_focal_loss import GaussianFocalLoss, gaussian_focal_loss
from .gfocal_loss import (
    DistributionFocalLoss,
    QualityFocalLoss,
    distribution_focal_loss,
    quality_focal_loss,
)
from .ghm_loss import GHMC, GHMR
from .iou_loss import (
    BoundedIoULoss,
    CIoULoss,
    DIoULoss,
    GIoULoss,
    IoULoss,
    bounded_iou_loss,
    ciou_loss,
    diou_loss,
    giou_loss,
    iou_loss,
)
from .kd_loss import (
    KnowledgeDistillationKLDivLoss,
    knowledge_distillation_kl_div_loss,
)
from .mse_loss import MSELoss, mse_loss
from .pisa_loss import carl_loss, isr_p
from .seesaw_loss import SeesawLoss, seesaw_ce_loss
from .smooth_l1_loss import L1Loss, SmoothL1Loss, l1_loss, smooth_l1_loss
from .utils import reduce_loss, weight_reduce_loss, weighted_loss
from .varifocal_loss import VarifocalLoss, varifocal_loss

__all__ = [
    'carl_loss',
    'isr_p',
    'SeesawLoss',
    'seesaw_ce_loss',
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
    'DiceLoss',
    'dice_loss',
    'BalancedL1Loss',
    'balanced_l1_loss',
    'GaussianFocalLoss',
    'gaussian_focal_loss',
    'QualityFocalLoss',
    'DistributionFocalLoss',
    'quality_focal_loss',
    'distribution_focal_loss',
    'GHMC',
    'GHMR',
    'BoundedIoULoss',
    'CIoULoss',
    'DIoULoss',
    'bounded_iou_loss',
    'ciou_loss',
    'diou_loss',
    'KnowledgeDistillationKLDivLoss',
    'knowledge_distillation_kl_div_loss',
    'VarifocalLoss',
    'varifocal_loss',
    'AssociativeEmbeddingLoss',
    'ae_loss_per_image',
]
