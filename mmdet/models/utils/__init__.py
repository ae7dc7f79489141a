"""Building blocks shared by models, where MMDetection 2.x code imports
them from (``mmdet.models.utils``): among them the ResNet stage, the
deformable convs (conv types ``'DCN'`` / ``'DCNv2'``), SAC (``'SAC'``) and
the norm type ``'MMSyncBN'``."""

from mmcv.cnn.bricks.transformer import (
    AdaptivePadding,
    PatchEmbed,
    PatchMerging,
)

from .builder import (
    LINEAR_LAYERS,
    TRANSFORMER,
    build_linear_layer,
    build_transformer,
)
from .carafe import CARAFEPack
from .ckpt_convert import pvt_convert, swin_converter
from .conv_upsample import ConvUpsample
from .corner_pool import CornerPool
from .csp_layer import CSPLayer, DarknetBottleneck
from .deform_conv import (
    DeformConv2d,
    DeformConv2dPack,
    ModulatedDeformConv2d,
    ModulatedDeformConv2dPack,
)
from .gaussian_target import (
    gather_feat,
    gaussian2D,
    gaussian_radius,
    gen_gaussian_target,
    get_local_maximum,
    get_topk_from_heatmap,
    transpose_and_gather_feat,
)
from .inverted_residual import InvertedResidual
from .make_divisible import make_divisible
from .masked_conv import MaskedConv2d
from .merge_cells import ConcatCell, GlobalPoolingCell, SumCell
from .misc import sigmoid_geometric_mean
from .ms_deform_attn import (
    MultiScaleDeformableAttention,
    multi_scale_deformable_attn_pytorch,
)
from .normed_predictor import NormedConv2d, NormedLinear
from .panoptic_gt_processing import preprocess_panoptic_gt
from .point_sample import (
    get_uncertain_point_coords_with_randomness,
    get_uncertainty,
    point_sample,
    rel_roi_point_to_rel_img_point,
)
from .positional_encoding import (
    LearnedPositionalEncoding,
    SinePositionalEncoding,
)
from .res_layer import ResLayer, SimplifiedBasicBlock, conv_builder
from .saconv import SAConv2d
from .se_layer import DyReLU, SELayer
from .sync_bn import MMSyncBatchNorm
from .transformer import (
    DeformableDetrTransformer,
    DeformableDetrTransformerDecoder,
    DetrTransformerDecoder,
    DetrTransformerDecoderLayer,
    DetrTransformerEncoder,
    DynamicConv,
    Transformer,
    inverse_sigmoid,
    nchw_to_nlc,
    nlc_to_nchw,
)

__all__ = [
    'ConvUpsample',
    'preprocess_panoptic_gt',
    'get_uncertain_point_coords_with_randomness',
    'get_uncertainty',
    'point_sample',
    'sigmoid_geometric_mean',
    'CornerPool',
    'gaussian2D',
    'gen_gaussian_target',
    'gaussian_radius',
    'get_local_maximum',
    'get_topk_from_heatmap',
    'gather_feat',
    'transpose_and_gather_feat',
    'SimplifiedBasicBlock',
    'rel_roi_point_to_rel_img_point',
    'LINEAR_LAYERS',
    'build_linear_layer',
    'NormedLinear',
    'NormedConv2d',
    'ResLayer',
    'conv_builder',
    'DeformConv2d',
    'DeformConv2dPack',
    'ModulatedDeformConv2d',
    'ModulatedDeformConv2dPack',
    'MMSyncBatchNorm',
    'CSPLayer',
    'DarknetBottleneck',
    'SAConv2d',
    'InvertedResidual',
    'SELayer',
    'DyReLU',
    'CARAFEPack',
    'ConcatCell',
    'GlobalPoolingCell',
    'SumCell',
    'make_divisible',
    'MaskedConv2d',
    'TRANSFORMER',
    'build_transformer',
    'pvt_convert',
    'swin_converter',
    'MultiScaleDeformableAttention',
    'multi_scale_deformable_attn_pytorch',
    'SinePositionalEncoding',
    'LearnedPositionalEncoding',
    'DetrTransformerDecoderLayer',
    'DetrTransformerEncoder',
    'DetrTransformerDecoder',
    'Transformer',
    'DeformableDetrTransformerDecoder',
    'DeformableDetrTransformer',
    'DynamicConv',
    'PatchEmbed',
    'PatchMerging',
    'AdaptivePadding',
    'inverse_sigmoid',
    'nchw_to_nlc',
    'nlc_to_nchw',
]
