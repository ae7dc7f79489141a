from .fpn import FPN
from .hrfpn import HRFPN
from .rfp import RFP

__all__ = ['FPN', 'HRFPN', 'RFP']
