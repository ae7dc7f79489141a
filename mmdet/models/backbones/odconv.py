"""ODConv: omni-dimensional dynamic convolution (Li et al., ICLR 2022).

An ``ODConv2d`` holds ``kernel_num`` candidate kernels and, per input sample,
predicts four attentions from the globally pooled input: over the input
channels, the output filters, the k x k spatial positions and the candidate
kernels. The sample's kernel is

    W_b = sum_i kernel[b, i] * spatial[b] * weight[i]

and its output ``conv(x_b * channel[b], W_b) * filter[b]``
(docs/design.md, "ODConv").

The channel attention scales input channels and the filter attention output
channels, so either can be applied to the feature map or folded into the
small per-sample kernel (``W_b[o, c] * channel[b, c] * filter[b, o]``);
``forward`` picks the smaller of the two tensors for each. It then runs one
grouped convolution over the whole batch (``groups = B * groups``; a batched
matrix product for 1x1 convs), or a plain convolution when the kernel does
not depend on the sample.

Parameter names and shapes are the checkpoint format of the released models:
``weight`` (kernel_num, out, in // groups, k, k) and ``attention.{fc, bn,
channel_fc, filter_fc, spatial_fc, kernel_fc}``; ``bias`` (out,) only with
``bias=True``.

Registered as mmcv's conv type ``'ODConv'``, so any module built with
``conv_cfg=dict(type='ODConv', kernel_num=4, reduction=0.0625)`` (FPN,
heads, ConvModule) uses it.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import CONV_LAYERS


class ODConvAttention(nn.Module):
    """The four attentions of an ``ODConv2d``, from one shared squeeze.

    ``fc`` (1x1 conv ``in_planes -> A``, no bias) + ``bn`` + ReLU squeeze the
    pooled input, ``A = max(int(in_planes * reduction), min_channel)``; then
    a 1x1 conv with bias per attention. Attentions that cannot vary are
    absent and count as the constant 1: the filter attention of a depth-wise
    conv, the spatial one of a 1x1 conv, the kernel one with one kernel.
    """

    def __init__(
        self,
        in_planes,
        out_planes,
        kernel_size,
        groups=1,
        reduction=0.0625,
        kernel_num=4,
        min_channel=16,
    ):
        super().__init__()
        hidden = max(int(in_planes * reduction), min_channel)
        self.kernel_size = kernel_size
        self.kernel_num = kernel_num
        self.temperature = 1.0

        self.fc = nn.Conv2d(in_planes, hidden, 1, bias=False)
        self.bn = nn.BatchNorm2d(hidden)
        self.relu = nn.ReLU(inplace=True)
        self.channel_fc = nn.Conv2d(hidden, in_planes, 1, bias=True)
        depthwise = in_planes == groups == out_planes
        self.filter_fc = (
            None if depthwise else nn.Conv2d(hidden, out_planes, 1, bias=True)
        )
        self.spatial_fc = (
            None
            if kernel_size == 1
            else nn.Conv2d(hidden, kernel_size * kernel_size, 1, bias=True)
        )
        self.kernel_fc = (
            None
            if kernel_num == 1
            else nn.Conv2d(hidden, kernel_num, 1, bias=True)
        )
        self.reset_parameters()

    def reset_parameters(self):
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(
                    module.weight, mode='fan_out', nonlinearity='relu'
                )
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x):
        """Attentions for ``x`` of shape (B, C_in, H, W).

        Returns ``(channel, filter, spatial, kernel)``: tensors of shape
        (B, C_in), (B, C_out), (B, k, k) and (B, kernel_num), with None for
        an absent attention.
        """
        # The 1x1 convs act on a 1x1 map, so they run as linear layers, and
        # the heads as one: a few large ops cost less than many small ones.
        hidden = F.linear(_global_mean(x), self.fc.weight.flatten(1))
        hidden = self.relu(self.bn(hidden[:, :, None, None])).flatten(1)
        sigmoid_fcs = {
            name: fc
            for name, fc in (
                ('channel', self.channel_fc),
                ('filter', self.filter_fc),
                ('spatial', self.spatial_fc),
            )
            if fc is not None
        }
        fcs = list(sigmoid_fcs.values())
        if self.kernel_fc is not None:
            fcs.append(self.kernel_fc)
        logits = F.linear(
            hidden,
            torch.cat([fc.weight for fc in fcs]).flatten(1),
            torch.cat([fc.bias for fc in fcs]),
        )
        if self.temperature != 1.0:
            logits = logits / self.temperature
        sizes = [fc.out_channels for fc in sigmoid_fcs.values()]
        attentions = dict(
            zip(
                sigmoid_fcs,
                torch.sigmoid(logits[:, : sum(sizes)]).split(sizes, dim=1),
            )
        )

        channel = attentions['channel']
        filt = attentions.get('filter')
        spatial = attentions.get('spatial')
        if spatial is not None:
            spatial = spatial.view(-1, self.kernel_size, self.kernel_size)
        kernel = None
        if self.kernel_fc is not None:
            kernel = torch.softmax(logits[:, sum(sizes) :], dim=1)
        return channel, filt, spatial, kernel


class ODConv2d(nn.Module):
    """Drop-in replacement of an ``nn.Conv2d`` (docs/design.md).

    Args:
        in_planes, out_planes, kernel_size, stride, padding, dilation,
            groups: as ``nn.Conv2d`` (square kernels).
        reduction (float): squeeze ratio of the attention branch.
        kernel_num (int): number of candidate kernels.
        bias (bool): add a learnt per-output-channel bias after the
            attention scaling (the released backbones have none).
        temperature (float): the attentions' starting temperature (1.0 as
            released); a ``conv_cfg`` sets it to match an OD backbone's.

    Shapes: input (B, in_planes, H, W) -> output (B, out_planes, H', W')
    with H', W' as ``nn.Conv2d`` gives.
    """

    def __init__(
        self,
        in_planes,
        out_planes,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        reduction=0.0625,
        kernel_num=4,
        bias=False,
        temperature=1.0,
    ):
        super().__init__()
        if in_planes % groups or out_planes % groups:
            raise ValueError(
                f'in_planes ({in_planes}) and out_planes '
                f'({out_planes}) must be divisible by groups '
                f'({groups})'
            )
        self.in_planes = in_planes
        self.out_planes = out_planes
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.kernel_num = kernel_num
        self.attention = ODConvAttention(
            in_planes,
            out_planes,
            kernel_size,
            groups=groups,
            reduction=reduction,
            kernel_num=kernel_num,
        )
        self.weight = nn.Parameter(
            torch.empty(
                kernel_num,
                out_planes,
                in_planes // groups,
                kernel_size,
                kernel_size,
            )
        )
        # absent, not None-valued, without bias: the released key layout
        if bias:
            self.bias = nn.Parameter(torch.zeros(out_planes))
        self.reset_parameters()
        self.update_temperature(temperature)

    # the attributes mmcv's ConvModule reads from its conv
    transposed = False
    output_padding = 0

    @property
    def in_channels(self):
        return self.in_planes

    @property
    def out_channels(self):
        return self.out_planes

    def reset_parameters(self):
        """Each candidate kernel Kaiming-normal (fan_out, relu), as a plain
        conv's weight would be; the bias zero."""
        for i in range(self.kernel_num):
            nn.init.kaiming_normal_(
                self.weight[i], mode='fan_out', nonlinearity='relu'
            )
        if 'bias' in self._parameters:
            nn.init.zeros_(self.bias)
        self.attention.reset_parameters()

    def init_weights(self):
        """ODConv's own initialisation; called by a parent's
        ``init_weights`` instead of mmcv's default conv init, which would
        read the 5-d ``weight`` as a 4-d one."""
        self.reset_parameters()

    @property
    def temperature(self):
        """The softmax/sigmoid temperature of the attentions."""
        return self.attention.temperature

    def update_temperature(self, temperature):
        """Set the softmax/sigmoid temperature of the attentions (the one
        way it is set: ``mmdet.core.set_temperature`` calls this on every
        ODConv2d of a model)."""
        self.attention.temperature = float(temperature)

    def extra_repr(self):
        return (
            f'{self.in_planes}, {self.out_planes}, '
            f'kernel_size={self.kernel_size}, stride={self.stride}, '
            f'padding={self.padding}, dilation={self.dilation}, '
            f'groups={self.groups}, kernel_num={self.kernel_num}'
        )

    def forward(self, x):
        """(B, C_in, H, W) -> (B, C_out, H', W')."""
        channel, filt, spatial, kernel = self.attention(x)
        # The channel (filter) attention scales the input (output) map, or
        # equivalently the per-sample kernel: fold it into whichever is
        # smaller. Small maps (deep layers) keep it on the map.
        sample_kernel = self.weight.numel() // self.kernel_num
        fold_channel = sample_kernel <= x.shape[1:].numel()
        out_height, out_width = self._output_size(x.shape[2:])
        fold_filter = filt is not None and (
            sample_kernel <= self.out_planes * out_height * out_width
        )
        if not fold_channel:
            x = x * channel[:, :, None, None]
        weight = self.sample_kernels(
            kernel,
            spatial,
            channel if fold_channel else None,
            filt if fold_filter else None,
        )
        out = self._conv(x, weight)
        if filt is not None and not fold_filter:
            out = _scaled(out, filt[:, :, None, None], owned=True)
        if 'bias' in self._parameters:
            out = out + self.bias[:, None, None]
        return out

    def sample_kernels(self, kernel, spatial=None, channel=None, filt=None):
        """Aggregate the candidate kernels and scale them by attentions.

        Args:
            kernel (Tensor | None): (B, kernel_num) weights of the candidate
                kernels; None for ``kernel_num == 1``.
            spatial (Tensor | None): (B, k, k) scale of the kernel positions.
            channel (Tensor | None): (B, C_in) scale of the input channels.
            filt (Tensor | None): (B, C_out) scale of the output channels.

        Returns:
            Tensor: (B, C_out, C_in // groups, k, k) kernels, or
            (1, C_out, C_in // groups, k, k) when no attention is given.
        """
        groups = self.groups
        out_pg, in_pg = self.out_planes // groups, self.in_planes // groups
        if kernel is None:
            weight = self.weight
        else:
            weight = kernel @ self.weight.flatten(1)
        # (B, groups, out/group, in/group, k*k): the attentions broadcast
        weight = weight.view(-1, groups, out_pg, in_pg, self.kernel_size**2)
        channel_filter = None
        if channel is not None:
            channel_filter = channel.view(-1, groups, 1, in_pg, 1)
        if filt is not None:
            filt = filt.view(-1, groups, out_pg, 1, 1)
            channel_filter = (
                filt if channel_filter is None else (channel_filter * filt)
            )
        if spatial is not None:
            spatial = spatial.view(-1, 1, 1, 1, self.kernel_size**2)
        owned = kernel is not None  # the aggregate is ours to overwrite
        for factor in (channel_filter, spatial):
            if factor is not None:
                weight = _scaled(weight, factor, owned)
                owned = True
        return weight.view(
            -1, self.out_planes, in_pg, self.kernel_size, self.kernel_size
        )

    def _output_size(self, size):
        span = self.dilation * (self.kernel_size - 1) + 1
        return [(s + 2 * self.padding - span) // self.stride + 1 for s in size]

    def _conv(self, x, weight):
        """Convolve each sample of ``x`` with its own kernel in ``weight``
        (B, C_out, C_in/groups, k, k), or all with ``weight[0]``."""
        if weight.shape[0] == 1:
            return F.conv2d(
                x,
                weight[0],
                None,
                self.stride,
                self.padding,
                self.dilation,
                self.groups,
            )
        batch, _, height, width = x.shape
        if (
            self.kernel_size == 1
            and self.stride == 1
            and self.padding == 0
            and self.groups == 1
        ):
            # a batched matrix product beats a grouped convolution here
            out = torch.bmm(
                weight.view(batch, self.out_planes, self.in_planes),
                x.flatten(2),
            )
            return out.view(batch, self.out_planes, height, width)
        out = F.conv2d(
            x.reshape(1, batch * self.in_planes, height, width),
            weight.reshape(batch * self.out_planes, *weight.shape[2:]),
            None,
            self.stride,
            self.padding,
            self.dilation,
            batch * self.groups,
        )
        return out.view(batch, self.out_planes, *out.shape[2:])


if 'ODConv' not in CONV_LAYERS.module_dict:
    CONV_LAYERS.register_module('ODConv', module=ODConv2d)


def _global_mean(x):
    """(B, C, H, W) -> (B, C) mean over the positions, row by row first.

    Equal to ``x.mean(dim=(2, 3))``, but each sum stays short: ONNX
    Runtime's ReduceMean adds a whole 192 x 320 map in one running float32
    sum, 1e-5 off (PyTorch: 1e-7), an error the attentions pass to every
    output of the layer and that grows ~2x a block through OD-MobileNetV2.
    Means of rows, then of their means, are as exact in both runtimes.
    """
    return x.mean(dim=3).mean(dim=2)


def _scaled(tensor, factor, owned):
    """``tensor * factor``, in place when ``tensor`` is a temporary (``owned``)
    and autograd records nothing, so inference allocates less."""
    if owned and not torch.is_grad_enabled():
        return tensor.mul_(factor)
    return tensor * factor
