"""``RoIAlign`` layer (mmcv.ops's interface) on ``torchvision.ops``."""

from torch import nn
from torch.nn.modules.utils import _pair
from torchvision.ops import roi_align


class RoIAlign(nn.Module):
    """RoI Align with mmcv's constructor arguments.

    Args:
        output_size (int | tuple[int]): (h, w) of the pooled features.
        spatial_scale (float): feature-map pixels per input pixel
            (1 / stride).
        sampling_ratio (int): sampling points per output bin side; 0 picks
            ``ceil(roi_size / output_size)`` adaptively.
        pool_mode (str): only 'avg' (torchvision has no max mode).
        aligned (bool): shift box coordinates by -0.5 pixel so that pixel
            centres sit at +0.5 (Detectron2 / MMDetection 2.x default).
        use_torchvision (bool): accepted for mmcv compatibility; this
            layer always uses torchvision.
    """

    def __init__(
        self,
        output_size,
        spatial_scale=1.0,
        sampling_ratio=0,
        pool_mode='avg',
        aligned=True,
        use_torchvision=False,
    ):
        super().__init__()
        if pool_mode != 'avg':
            raise ValueError(
                f"only pool_mode='avg' is supported, got {pool_mode!r}"
            )
        self.output_size = _pair(output_size)
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = int(sampling_ratio)
        self.pool_mode = pool_mode
        self.aligned = aligned
        self.use_torchvision = use_torchvision

    def forward(self, input, rois):
        """Pool (K, C, *output_size) features of ``input`` (B, C, H, W) for
        ``rois`` (K, 5) = ``[batch_idx, x1, y1, x2, y2]`` in input pixels."""
        return roi_align(
            input,
            rois.to(input.dtype),
            self.output_size,
            self.spatial_scale,
            self.sampling_ratio,
            self.aligned,
        )

    def __repr__(self):
        return (
            f'{type(self).__name__}(output_size={self.output_size}, '
            f'spatial_scale={self.spatial_scale}, '
            f'sampling_ratio={self.sampling_ratio}, '
            f'pool_mode={self.pool_mode}, aligned={self.aligned})'
        )
