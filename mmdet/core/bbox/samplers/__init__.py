from .base_sampler import BaseSampler
from .combined_sampler import CombinedSampler
from .instance_balanced_pos_sampler import InstanceBalancedPosSampler
from .iou_balanced_neg_sampler import IoUBalancedNegSampler
from .mask_pseudo_sampler import MaskPseudoSampler, MaskSamplingResult
from .ohem_sampler import OHEMSampler
from .pseudo_sampler import PseudoSampler
from .random_sampler import RandomSampler
from .sampling_result import SamplingResult
from .score_hlr_sampler import ScoreHLRSampler

__all__ = [
    'BaseSampler',
    'PseudoSampler',
    'RandomSampler',
    'SamplingResult',
    'CombinedSampler',
    'InstanceBalancedPosSampler',
    'IoUBalancedNegSampler',
    'OHEMSampler',
    'MaskPseudoSampler',
    'MaskSamplingResult',
    'ScoreHLRSampler',
]
