"""ODConv: omni-dimensional dynamic convolution (Li et al., ICLR 2022).

An ``ODConv2d`` holds ``kernel_num`` candidate kernels and, per input sample,
predicts four attentions from the globally pooled input: over the input
channels, the output filters, the k x k spatial positions and the candidate
kernels. The sample's kernel is

    W_b = sum_i kernel[b, i] * spatial[b] * weight[i]

and its output ``conv(x_b * channel[b], W_b) * filter[b]`` (SPEC.md, 2).

Since the channel attention scales input channels and the filter attention
scales output channels, both fold into the small per-sample kernel:
``W_b[o, c] * channel[b, c] * filter[b, o]``. The forward pass therefore
never rescales a feature map; it aggregates B kernels and runs one grouped
convolution over the whole batch (``groups = B * groups``).

Parameter names and shapes are the checkpoint format of the released models:
``weight`` (kernel_num, out, in // groups, k, k) and ``attention.{fc, bn,
channel_fc, filter_fc, spatial_fc, kernel_fc}``.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ODConvAttention(nn.Module):
    """The four attentions of an ``ODConv2d``, from one shared squeeze.

    ``fc`` (1x1 conv ``in_planes -> A``, no bias) + ``bn`` + ReLU squeeze the
    pooled input, ``A = max(int(in_planes * reduction), min_channel)``; then
    a 1x1 conv with bias per attention. Attentions that cannot vary are
    absent and count as the constant 1: the filter attention of a depth-wise
    conv, the spatial one of a 1x1 conv, the kernel one with one kernel.
    """

    def __init__(self, in_planes, out_planes, kernel_size, groups=1,
                 reduction=0.0625, kernel_num=4, min_channel=16):
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
        self.filter_fc = None if depthwise else nn.Conv2d(
            hidden, out_planes, 1, bias=True)
        self.spatial_fc = None if kernel_size == 1 else nn.Conv2d(
            hidden, kernel_size * kernel_size, 1, bias=True)
        self.kernel_fc = None if kernel_num == 1 else nn.Conv2d(
            hidden, kernel_num, 1, bias=True)
        self.reset_parameters()

    def reset_parameters(self):
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(
                    module.weight, mode='fan_out', nonlinearity='relu')
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def update_temperature(self, temperature):
        self.temperature = float(temperature)

    def forward(self, x):
        """Attentions for ``x`` of shape (B, C_in, H, W).

        Returns ``(channel, filter, spatial, kernel)``: tensors of shape
        (B, C_in), (B, C_out), (B, k, k) and (B, kernel_num), with None for
        an absent attention.
        """
        pooled = x.mean(dim=(2, 3), keepdim=True)
        squeezed = self.relu(self.bn(self.fc(pooled)))
        t = self.temperature
        batch = x.shape[0]

        def head(fc):
            return None if fc is None else fc(squeezed).view(batch, -1) / t

        channel = torch.sigmoid(head(self.channel_fc))
        filt = head(self.filter_fc)
        spatial = head(self.spatial_fc)
        kernel = head(self.kernel_fc)
        if filt is not None:
            filt = torch.sigmoid(filt)
        if spatial is not None:
            spatial = torch.sigmoid(spatial).view(
                batch, self.kernel_size, self.kernel_size)
        if kernel is not None:
            kernel = torch.softmax(kernel, dim=1)
        return channel, filt, spatial, kernel


class ODConv2d(nn.Module):
    """Drop-in replacement of a bias-free ``nn.Conv2d`` (SPEC.md, 2).

    Args:
        in_planes, out_planes, kernel_size, stride, padding, dilation,
            groups: as ``nn.Conv2d`` (square kernels).
        reduction (float): squeeze ratio of the attention branch.
        kernel_num (int): number of candidate kernels.

    Shapes: input (B, in_planes, H, W) -> output (B, out_planes, H', W')
    with H', W' as ``nn.Conv2d`` gives.
    """

    def __init__(self, in_planes, out_planes, kernel_size, stride=1,
                 padding=0, dilation=1, groups=1, reduction=0.0625,
                 kernel_num=4):
        super().__init__()
        if in_planes % groups or out_planes % groups:
            raise ValueError(f'in_planes ({in_planes}) and out_planes '
                             f'({out_planes}) must be divisible by groups '
                             f'({groups})')
        self.in_planes = in_planes
        self.out_planes = out_planes
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.kernel_num = kernel_num
        self.attention = ODConvAttention(
            in_planes, out_planes, kernel_size, groups=groups,
            reduction=reduction, kernel_num=kernel_num)
        self.weight = nn.Parameter(
            torch.empty(kernel_num, out_planes, in_planes // groups,
                        kernel_size, kernel_size))
        self.reset_parameters()

    def reset_parameters(self):
        """Each candidate kernel Kaiming-normal (fan_out, relu), as a plain
        conv's weight would be."""
        for i in range(self.kernel_num):
            nn.init.kaiming_normal_(
                self.weight[i], mode='fan_out', nonlinearity='relu')
        self.attention.reset_parameters()

    def update_temperature(self, temperature):
        """Set the softmax/sigmoid temperature of the attentions."""
        self.attention.update_temperature(temperature)

    def extra_repr(self):
        return (f'{self.in_planes}, {self.out_planes}, '
                f'kernel_size={self.kernel_size}, stride={self.stride}, '
                f'padding={self.padding}, dilation={self.dilation}, '
                f'groups={self.groups}, kernel_num={self.kernel_num}')

    def aggregate_kernels(self, x):
        """Per-sample kernels with every attention folded in.

        Returns a tensor of shape (B, C_out, C_in // groups, k, k).
        """
        channel, filt, spatial, kernel = self.attention(x)
        batch = x.shape[0]
        out_pg = self.out_planes // self.groups
        in_pg = self.in_planes // self.groups
        if kernel is None:
            weight = self.weight  # (1, C_out, C_in/g, k, k): broadcasts
        else:
            weight = (kernel @ self.weight.flatten(1)).view(
                batch, *self.weight.shape[1:])
        # scale[b, o, c] = channel[b, input channel c of o's group] * filter
        scale = channel.view(batch, self.groups, 1, in_pg).expand(
            batch, self.groups, out_pg, in_pg).reshape(
                batch, self.out_planes, in_pg)
        if filt is not None:
            scale = scale * filt.unsqueeze(2)
        scale = scale[..., None, None]
        if spatial is not None:
            scale = scale * spatial[:, None, None]
        return weight * scale

    def forward(self, x):
        batch, _, height, width = x.shape
        weight = self.aggregate_kernels(x)
        out = F.conv2d(
            x.reshape(1, batch * self.in_planes, height, width),
            weight.reshape(batch * self.out_planes, *weight.shape[2:]),
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=batch * self.groups)
        return out.view(batch, self.out_planes, *out.shape[2:])


def net_update_temperature(module, temperature):
    """Set ``temperature`` on every ODConv2d inside ``module``."""
    for m in module.modules():
        if isinstance(m, ODConv2d):
            m.update_temperature(temperature)
