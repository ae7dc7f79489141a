from .fpn import FPN
from .rfp import RFP

__all__ = ['FPN', 'RFP']
