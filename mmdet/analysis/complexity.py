"""Parameters and FLOPs of a detector, with ODConv counted in full.

Conventions (those of mmcv's ``get_model_complexity_info``, whose per-layer
counting functions are reused for ordinary layers): a "FLOP" is one
multiply-accumulate of a convolution or linear layer, a bias add or a
pooled/normalized/activated element counts one; sigmoid, softmax and
operations outside modules (RoIAlign, reshapes) are not counted.

``mmcv`` cannot see inside an ``ODConv2d`` (its attention runs as fused
matrix products, not through its sub-modules), so an ``ODConv2d`` is counted
as one unit by ``odconv2d_flops``, following its definition
(docs/design.md) for input (B, C_in, H, W), output (B, C_out, H', W'),
kernel k x k, groups g, ``kernel_num`` K and squeeze width A:

* attention: global average pool ``B*C_in*H*W``, squeeze ``B*C_in*A``, its
  BatchNorm ``2*B*A`` and ReLU ``B*A``, and the heads ``B*(A + 1)*N`` with
  N = C_in + C_out (filter) + k*k (spatial) + K (kernel), absent heads left
  out;
* kernel aggregation: per sample, the weighted sum of the K kernels
  ``K*C_out*(C_in/g)*k*k`` (none for K = 1) and the spatial scaling
  ``C_out*(C_in/g)*k*k`` (none for 1x1);
* attention scaling: the channel attention on the input ``B*C_in*H*W`` and
  the filter attention on the output ``B*C_out*H'*W'`` (the implementation
  may fold them into the kernel when that is smaller; the count follows the
  definition);
* convolution: ``B*H'*W'*C_out*(C_in/g)*k*k``, as a plain conv, plus
  ``B*H'*W'*C_out`` for a bias (``conv_cfg`` ODConv without a norm).

Params are every parameter of the model (``requires_grad`` or not: frozen
stages count), which is how the published table counts them.
"""

from collections import OrderedDict, defaultdict

import numpy as np
import torch
from mmcv.cnn.utils.flops_counter import get_modules_mapping

from mmdet.apis.builders import build_test_detector, load_config
from mmdet.models.backbones.odconv import ODConv2d

ODCONV_PARTS = ('attention', 'aggregation', 'scaling', 'convolution')


def count_params(model):
    """Number of parameters of ``model`` (all of them, frozen included)."""
    return sum(p.numel() for p in model.parameters())


def odconv2d_flops(module, input_shape, output_shape):
    """FLOPs of one ``ODConv2d`` forward, split by part.

    Args:
        module (ODConv2d): the layer.
        input_shape, output_shape (tuple): (B, C_in, H, W), (B, C_out, H',
            W').

    Returns:
        dict: ``attention``, ``aggregation``, ``scaling``, ``convolution``
        FLOPs (module docstring).
    """
    batch, c_in, height, width = input_shape
    _, c_out, out_h, out_w = output_shape
    att = module.attention
    hidden = att.fc.out_channels
    k2 = module.kernel_size**2
    heads = c_in + sum(
        fc.out_channels
        for fc in (att.filter_fc, att.spatial_fc, att.kernel_fc)
        if fc is not None
    )
    attention = batch * (
        c_in * height * width
        + c_in * hidden
        + 3 * hidden
        + (hidden + 1) * heads
    )
    kernel_size = c_out * (c_in // module.groups) * k2
    aggregation = 0
    if att.kernel_fc is not None:
        aggregation += module.kernel_num * kernel_size
    if att.spatial_fc is not None:
        aggregation += kernel_size
    scaling = c_in * height * width
    if att.filter_fc is not None:
        scaling += c_out * out_h * out_w
    bias = c_out if 'bias' in module._parameters else 0
    return dict(
        attention=attention,
        aggregation=batch * aggregation,
        scaling=batch * scaling,
        convolution=batch * out_h * out_w * (kernel_size + bias),
    )


class FlopsCounter:
    """Count FLOPs of forward passes through hooks on a model's layers.

    Use as a context manager around forward passes; afterwards ``total``,
    ``by_module`` (FLOPs per counted layer, by name), ``odconv`` (FLOPs per
    ODConv part, summed) and ``num_odconv`` hold the counts.
    """

    def __init__(self, model):
        self.model = model
        self.by_module = OrderedDict()
        self.odconv = defaultdict(int)
        self.num_odconv = 0
        self._handles = []

    @property
    def total(self):
        return sum(self.by_module.values())

    def __enter__(self):
        self._register(self.model, '')
        return self

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _add(self, name, flops):
        self.by_module[name] = self.by_module.get(name, 0) + int(flops)

    def _register(self, module, name):
        mapping = get_modules_mapping()
        if isinstance(module, ODConv2d):
            self.num_odconv += 1
            self._hook(module, self._odconv_hook(name))
            return  # its sub-modules are part of its count
        if type(module) in mapping:
            self._hook(module, self._mmcv_hook(name, mapping[type(module)]))
        for child_name, child in module.named_children():
            self._register(
                child, f'{name}.{child_name}' if name else child_name
            )

    def _hook(self, module, fn):
        self._handles.append(module.register_forward_hook(fn))

    def _odconv_hook(self, name):
        def hook(module, inputs, output):
            parts = odconv2d_flops(
                module, tuple(inputs[0].shape), tuple(output.shape)
            )
            for part, flops in parts.items():
                self.odconv[part] += flops
            self._add(name, sum(parts.values()))

        return hook

    def _mmcv_hook(self, name, count_fn):
        """mmcv's counting function for the layer type; it adds to the
        module's ``__flops__``, read back and removed here."""

        def hook(module, inputs, output):
            module.__flops__ = 0
            count_fn(module, inputs, output)
            self._add(name, module.__flops__)
            del module.__flops__

        return hook


def padded_shape(shape, size_divisor=32):
    """(H, W) rounded up to multiples of ``size_divisor`` (<= 0: as is)."""
    if size_divisor <= 0:
        return tuple(shape)
    return tuple(int(np.ceil(s / size_divisor)) * size_divisor for s in shape)


def build_detector_for_counting(config, cfg_options=None):
    """The config's detector on the CPU in eval mode, without loading any
    pretrained weights (counts need none; a distillation teacher's
    checkpoint neither: the teacher is not part of the detector)."""
    cfg = load_config(config, cfg_options)
    if cfg.model.get('teacher_ckpt'):
        cfg.model.teacher_ckpt = None
    model, _ = build_test_detector(cfg)
    return model


def detector_complexity(model, shape):
    """Params and FLOPs of one image of (H, W) = ``shape`` through
    ``model.forward_dummy`` (backbone, neck, RPN and the RoI heads on 1000
    fixed proposals, as MMDetection's get_flops counts).

    Returns:
        dict: ``params``, ``flops`` (total), ``by_part`` (FLOPs per
        top-level component, e.g. backbone, neck, rpn_head, roi_head),
        ``odconv`` (FLOPs per ODConv part) and ``num_odconv`` (layers).
    """
    if not hasattr(model, 'forward_dummy'):
        raise NotImplementedError(
            f'FLOPs counting is not supported for {type(model).__name__} '
            '(it has no forward_dummy)'
        )
    device = next(model.parameters()).device
    img = torch.zeros(1, 3, *shape, device=device)
    with FlopsCounter(model) as counter, torch.no_grad():
        model.forward_dummy(img)
    by_part = OrderedDict()
    for name, flops in counter.by_module.items():
        part = name.split('.')[0]
        by_part[part] = by_part.get(part, 0) + flops
    return dict(
        params=count_params(model),
        flops=counter.total,
        by_part=by_part,
        odconv=dict(counter.odconv),
        num_odconv=counter.num_odconv,
    )


def format_count(value, unit):
    """``12.34 GFLOPs`` / ``108.92 M`` style strings (2 decimals)."""
    scales = [(1e9, 'G'), (1e6, 'M'), (1e3, 'K'), (1, '')]
    for scale, prefix in scales:
        if abs(value) >= scale or scale == 1:
            return f'{value / scale:.2f} {prefix}{unit}'.rstrip()
