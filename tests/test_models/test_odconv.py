"""ODConv2d against a direct, per-sample implementation of its definition."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from mmdet.models.backbones import OD_MobileNetV2, ODConv2d


def reference_odconv(module, x):
    """The definition (docs/design.md, "ODConv"), written out per sample
    with no folding."""
    att = module.attention
    t = att.temperature
    a = att.relu(att.bn(att.fc(F.adaptive_avg_pool2d(x, 1))))
    batch, k = x.shape[0], module.kernel_size
    channel = torch.sigmoid(att.channel_fc(a) / t)  # (B, C_in, 1, 1)
    if att.filter_fc is None:
        filt = torch.ones(batch, module.out_planes, 1, 1, dtype=x.dtype)
    else:
        filt = torch.sigmoid(att.filter_fc(a) / t)
    if att.spatial_fc is None:
        spatial = torch.ones(batch, k, k, dtype=x.dtype)
    else:
        spatial = torch.sigmoid(att.spatial_fc(a) / t).view(batch, k, k)
    if att.kernel_fc is None:
        kernel = torch.ones(batch, 1, dtype=x.dtype)
    else:
        kernel = torch.softmax(att.kernel_fc(a).view(batch, -1) / t, dim=1)
    outs = []
    for b in range(batch):
        w_b = sum(
            kernel[b, i] * spatial[b] * module.weight[i]
            for i in range(module.kernel_num)
        )
        y_b = F.conv2d(
            x[b : b + 1] * channel[b : b + 1],
            w_b,
            None,
            module.stride,
            module.padding,
            module.dilation,
            module.groups,
        )
        outs.append(y_b * filt[b : b + 1])
    return torch.cat(outs)


def make_odconv(
    in_planes, out_planes, k, stride, dilation, groups, kernel_num
):
    torch.manual_seed(0)
    m = ODConv2d(
        in_planes,
        out_planes,
        k,
        stride=stride,
        padding=dilation * (k // 2),
        dilation=dilation,
        groups=groups,
        kernel_num=kernel_num,
    ).double()
    # non-trivial attention outputs (the init zeroes the biases)
    with torch.no_grad():
        for p in m.attention.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    return m


CASES = list(
    itertools.product(
        [1, 3],  # batch
        ['dense', 'depthwise'],
        [1, 2],  # stride
        [1, 2],  # dilation
        [1, 4],  # kernel_num
        [1, 3],  # kernel size
    )
)


# train mode: the attention's BatchNorm normalises over the batch, which
# needs more than one sample
CASES = [case + (False,) for case in CASES] + [
    case + (True,) for case in CASES if case[0] > 1
]


@pytest.mark.parametrize(
    'batch,kind,stride,dilation,kernel_num,k,train', CASES
)
def test_odconv_matches_definition(
    batch, kind, stride, dilation, kernel_num, k, train
):
    channels = 8
    groups = channels if kind == 'depthwise' else 1
    out_planes = channels if kind == 'depthwise' else 6
    m = make_odconv(
        channels, out_planes, k, stride, dilation, groups, kernel_num
    )
    m.train(train)
    x = torch.randn(batch, channels, 9, 7, dtype=torch.float64)
    state = {k_: v.clone() for k_, v in m.state_dict().items()}
    got = m(x)
    m.load_state_dict(state)  # same BN statistics for the reference
    want = reference_odconv(m, x)
    assert got.shape == want.shape
    assert torch.allclose(got, want, rtol=1e-10, atol=1e-12)
    # absent attentions are really absent
    assert (m.attention.filter_fc is None) == (kind == 'depthwise')
    assert (m.attention.spatial_fc is None) == (k == 1)
    assert (m.attention.kernel_fc is None) == (kernel_num == 1)


def test_grouped_conv_matches_definition():
    m = make_odconv(8, 12, 3, 1, 1, 4, 4).eval()
    x = torch.randn(2, 8, 6, 6, dtype=torch.float64)
    assert torch.allclose(m(x), reference_odconv(m, x), rtol=1e-10, atol=1e-12)


def test_float32_close_to_definition():
    m = make_odconv(16, 16, 3, 1, 1, 1, 4).float().eval()
    x = torch.randn(3, 16, 10, 10)
    assert torch.allclose(m(x), reference_odconv(m, x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('size', [5, 8], ids=['on_maps', 'in_kernel'])
def test_gradcheck_input_and_weight(size):
    # 4x4x3x3 kernels: the attentions scale the 5x5 maps (smaller than a
    # sample's kernel) but fold into the kernel for 8x8 maps
    m = make_odconv(4, 4, 3, 1, 1, 1, 2).eval()
    x = torch.randn(2, 4, size, size, dtype=torch.float64, requires_grad=True)
    weight = m.weight
    assert torch.autograd.gradcheck(m, (x,), fast_mode=True)
    assert torch.autograd.gradcheck(
        lambda w: torch.func.functional_call(m, {'weight': w}, (x,)),
        (weight.detach().clone().requires_grad_(),),
        fast_mode=True,
    )
    # gradient w.r.t. the candidate kernels equals the reference's
    out = m(x).square().sum()
    (grad_fast,) = torch.autograd.grad(out, weight)
    out_ref = reference_odconv(m, x).square().sum()
    (grad_ref,) = torch.autograd.grad(out_ref, weight)
    assert torch.allclose(grad_fast, grad_ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize('size', [7, 16], ids=['on_maps', 'in_kernel'])
def test_gradients_reach_attention_like_reference(size):
    m = make_odconv(6, 6, 3, 2, 1, 1, 4).eval()
    x = torch.randn(2, 6, size, size, dtype=torch.float64)
    params = list(m.attention.parameters())
    fast = torch.autograd.grad(m(x).sum(), params, allow_unused=True)
    ref = torch.autograd.grad(
        reference_odconv(m, x).sum(), params, allow_unused=True
    )
    assert all(g is not None for g in ref)
    for g_fast, g_ref in zip(fast, ref):
        assert torch.allclose(g_fast, g_ref, rtol=1e-9, atol=1e-12)


# (in, out, k, kernel_num, map size): the attentions go on the maps or into
# the kernel depending on which is smaller; with one 1x1 kernel and both on
# the maps every sample shares the kernel (a plain convolution)
@pytest.mark.parametrize(
    'cin,cout,k,kernel_num,size',
    [
        (8, 6, 3, 4, 2),  # both on the maps
        (4, 12, 3, 4, 6),  # channel on the input, filter in the kernel
        (12, 4, 3, 4, 6),  # channel in the kernel, filter on the output
        (8, 6, 3, 4, 16),  # both in the kernel
        (8, 6, 1, 1, 1),  # both on the maps: shared kernel
        (8, 6, 1, 4, 2),  # 1x1 as a batched matrix product
    ],
)
@pytest.mark.parametrize('train', [False, True])
def test_every_attention_placement_matches_definition(
    cin, cout, k, kernel_num, size, train
):
    m = make_odconv(cin, cout, k, 1, 1, 1, kernel_num).train(train)
    x = torch.randn(3, cin, size, size + 1, dtype=torch.float64)
    state = {k_: v.clone() for k_, v in m.state_dict().items()}
    got = m(x)
    m.load_state_dict(state)
    assert torch.allclose(got, reference_odconv(m, x), rtol=1e-10, atol=1e-12)


def test_temperature_changes_output():
    m = make_odconv(8, 8, 3, 1, 1, 1, 4).eval()
    x = torch.randn(2, 8, 6, 6, dtype=torch.float64)
    before = m(x)
    m.update_temperature(30.0)
    after = m(x)
    assert not torch.allclose(before, after)
    assert torch.allclose(
        after, reference_odconv(m, x), rtol=1e-10, atol=1e-12
    )


def test_net_update_temperature_reaches_every_layer():
    net = OD_MobileNetV2(width_mult=0.5, kernel_num=2)
    net.net_update_temperature(7.5)
    layers = [m for m in net.modules() if isinstance(m, ODConv2d)]
    # the first block has 2 convs, the other 16 have 3, plus the last 1x1
    assert len(layers) == 2 + 16 * 3 + 1
    assert all(m.attention.temperature == 7.5 for m in layers)
