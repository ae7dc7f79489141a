from .dynamic_mask_head import DynamicMaskHead
from .fcn_mask_head import FCNMaskHead

__all__ = ['FCNMaskHead', 'DynamicMaskHead']
