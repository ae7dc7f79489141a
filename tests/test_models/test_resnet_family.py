"""ResNet's dcn / plugins options, ResNeXt, ResNetV1d, DropBlock, MMSyncBN
and the C4 shared head (``ResLayer``), on tiny widths."""

import math

import pytest
import torch
import torch.nn as nn
from mmcv.cnn import PLUGIN_LAYERS, ContextBlock, GeneralizedAttention

from mmdet.models import build_backbone, build_shared_head
from mmdet.models.plugins import DropBlock
from mmdet.models.utils import DeformConv2dPack, ModulatedDeformConv2dPack
from mmdet.utils.arg_errors import UnsupportedOptionError

TINY = dict(depth=50, base_channels=8, norm_eval=False)
DCN = dict(type='DCN', deform_groups=1, fallback_on_stride=False)
ONE_STAGE = dict(num_stages=1, strides=(1,), dilations=(1,), out_indices=(0,))


def resnet(**kwargs):
    return build_backbone(dict(dict(type='ResNet', **TINY), **kwargs))


def test_dcn_replaces_conv2_of_flagged_stages():
    model = resnet(dcn=DCN, stage_with_dcn=(False, True, False, True))
    for i, deform in enumerate((False, True, False, True)):
        for block in getattr(model, f'layer{i + 1}'):
            assert isinstance(block.conv2, DeformConv2dPack) == deform
            assert isinstance(block.conv1, nn.Conv2d)
    conv2 = model.layer2[0].conv2
    assert conv2.stride == (2, 2) and conv2.deform_groups == 1
    # the offsets start at zero even after the random initialisation
    model.init_weights()
    assert torch.count_nonzero(conv2.conv_offset.weight) == 0
    outs = model(torch.rand(2, 3, 64, 64))
    assert [o.shape[1:] for o in outs] == [
        (32, 16, 16),
        (64, 8, 8),
        (128, 4, 4),
        (256, 2, 2),
    ]


def test_dcnv2_groups_and_fallback():
    dcn = dict(type='DCNv2', deform_groups=4, fallback_on_stride=False)
    model = resnet(dcn=dcn, stage_with_dcn=(False, False, True, True))
    conv2 = model.layer3[1].conv2
    assert isinstance(conv2, ModulatedDeformConv2dPack)
    assert conv2.conv_offset.out_channels == 4 * 3 * 9
    assert conv2.bias is None
    # fallback_on_stride=True keeps plain convs (MMDetection's meaning)
    plain = resnet(
        dcn=dict(dcn, fallback_on_stride=True),
        stage_with_dcn=(True,) * 4,
    )
    assert type(plain.layer3[0].conv2) is nn.Conv2d


def test_dcn_refusals():
    with pytest.raises(UnsupportedOptionError, match='dcn'):
        build_backbone(
            dict(type='ResNet', depth=18, dcn=DCN, stage_with_dcn=(True,) * 4)
        )
    with pytest.raises(AssertionError, match='stage_with_dcn'):
        resnet(dcn=DCN, stage_with_dcn=(True, True))
    with pytest.raises(AssertionError, match='conv_cfg must be None'):
        resnet(
            dcn=DCN,
            stage_with_dcn=(True,) * 4,
            conv_cfg=dict(type='ConvWS'),
        )


def test_train_step_of_a_dcn_resnet_moves_the_offsets():
    torch.manual_seed(0)
    model = resnet(
        dcn=dict(type='DCNv2', deform_groups=1),
        stage_with_dcn=(False, True, True, True),
    )
    model.train()
    optim = torch.optim.SGD(model.parameters(), lr=0.1)
    target = torch.randn(2, 256, 2, 2)
    offset_conv = model.layer3[0].conv2.conv_offset
    losses = []
    for _ in range(3):
        optim.zero_grad()
        loss = (model(torch.rand(2, 3, 64, 64))[-1] - target).pow(2).mean()
        loss.backward()
        losses.append(loss.item())
        optim.step()
    assert all(math.isfinite(v) for v in losses)
    assert offset_conv.weight.grad.abs().sum() > 0
    assert torch.count_nonzero(offset_conv.weight) > 0


class Zero(nn.Module):
    """Test plugin: zeroes its input and records the channels."""

    _abbr_ = 'zero'

    def __init__(self, in_channels):
        super().__init__()
        self.in_channels = in_channels

    def forward(self, x):
        return x * 0


PLUGIN_LAYERS.register_module(module=Zero, force=True)


def test_plugins_names_channels_and_stages():
    plugins = [
        dict(
            cfg=dict(type='ContextBlock', ratio=1.0 / 4),
            stages=(False, True, True, True),
            position='after_conv3',
        ),
        dict(
            cfg=dict(
                type='GeneralizedAttention',
                num_heads=8,
                attention_type='1111',
                kv_stride=2,
            ),
            stages=(False, False, True, True),
            position='after_conv2',
        ),
        dict(cfg=dict(type='Zero', postfix='_a'), position='after_conv1'),
    ]
    model = resnet(plugins=plugins)
    assert not hasattr(model.layer1[0], 'context_block')
    assert not hasattr(model.layer2[0], 'gen_attention_block')
    block = model.layer3[1]
    assert isinstance(block.context_block, ContextBlock)
    assert block.context_block.in_channels == 32 * 4
    assert isinstance(block.gen_attention_block, GeneralizedAttention)
    assert block.gen_attention_block.in_channels == 32  # the bottleneck
    assert block.zero_a.in_channels == 32
    assert block.after_conv3_plugin_names == ['context_block']
    # the random initialisation leaves the plugins' own: a new context
    # block adds nothing
    model.init_weights()
    last = block.context_block.channel_add_conv[-1]
    assert torch.count_nonzero(last.weight) == 0
    keys = model.state_dict()
    assert 'layer3.1.context_block.channel_add_conv.0.weight' in keys
    assert 'layer4.0.gen_attention_block.query_conv.weight' in keys


@pytest.mark.parametrize('position', ['after_conv1', 'after_conv2'])
def test_plugin_position_in_the_forward(position):
    """A zeroing plugin after conv1 or conv2 leaves the block's output
    relu(norm3(conv3(0)) + identity); after conv3, relu(identity)."""
    torch.manual_seed(0)
    plugins = [dict(cfg=dict(type='Zero'), position=position)]
    model = resnet(plugins=plugins, **ONE_STAGE)
    block = model.layer1[1]  # no projection shortcut
    block.eval()
    x = torch.rand(1, 32, 5, 5)
    zero_mid = block.norm3(block.conv3(torch.zeros(1, 8, 5, 5)))
    assert torch.allclose(block(x), torch.relu(zero_mid + x))
    after3 = resnet(
        plugins=[dict(cfg=dict(type='Zero'), position='after_conv3')],
        **ONE_STAGE,
    ).layer1[1]
    assert torch.allclose(after3.eval()(x), torch.relu(x))


def test_plugin_checks():
    with pytest.raises(AssertionError, match='position'):
        resnet(plugins=[dict(cfg=dict(type='Zero'), position='before')])
    with pytest.raises(AssertionError, match='duplicate plugin'):
        resnet(
            plugins=[
                dict(cfg=dict(type='Zero'), position='after_conv1'),
                dict(cfg=dict(type='Zero'), position='after_conv2'),
            ]
        )
    with pytest.raises(AssertionError, match='stages'):
        resnet(
            plugins=[
                dict(
                    cfg=dict(type='Zero'),
                    position='after_conv1',
                    stages=(True,),
                )
            ]
        )


def test_with_cp_keeps_plugins_and_dcn_gradients():
    torch.manual_seed(0)
    kwargs = dict(
        dcn=DCN,
        stage_with_dcn=(False, True),
        plugins=[
            dict(
                cfg=dict(type='ContextBlock', ratio=0.25),
                position='after_conv3',
            )
        ],
        num_stages=2,
        strides=(1, 2),
        dilations=(1, 1),
        out_indices=(1,),
    )
    plain, ckpt = resnet(**kwargs), resnet(with_cp=True, **kwargs)
    ckpt.load_state_dict(plain.state_dict())
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    grads = []
    for model in (plain, ckpt):
        model.train()
        model(x)[0].sum().backward()
        grads.append(model.layer2[0].conv2.weight.grad)
    assert torch.allclose(grads[0], grads[1], atol=1e-5)


def test_resnext_width_and_groups():
    model = build_backbone(
        dict(type='ResNeXt', depth=50, groups=32, base_width=4)
    )
    for i, planes in enumerate((64, 128, 256, 512)):
        block = getattr(model, f'layer{i + 1}')[0]
        width = math.floor(planes * 4 / 64) * 32
        assert block.conv2.groups == 32
        assert block.conv2.weight.shape == (width, width // 32, 3, 3)
        assert block.conv3.weight.shape == (planes * 4, width, 1, 1)
    single = build_backbone(dict(type='ResNeXt', depth=50, groups=1))
    assert single.layer2[0].conv2.weight.shape == (128, 128, 3, 3)
    tiny = build_backbone(
        dict(
            type='ResNeXt',
            depth=50,
            groups=4,
            base_width=2,
            base_channels=8,
            dcn=DCN,
            stage_with_dcn=(False, True, True, True),
            plugins=[
                dict(
                    cfg=dict(type='Zero', postfix='2'), position='after_conv2'
                )
            ],
        )
    )
    block = tiny.layer2[0]  # planes 16: width floor(16 * 2 / 8) * 4 = 16
    assert block.conv2.groups == 4 and block.conv2.weight.shape[0] == 16
    assert block.zero2.in_channels == 16
    outs = tiny.eval()(torch.rand(1, 3, 32, 32))
    assert [o.shape[1] for o in outs] == [32, 64, 128, 256]
    with pytest.raises(KeyError, match='invalid depth'):
        build_backbone(dict(type='ResNeXt', depth=18))


def test_resnetv1d_stem_and_shortcuts():
    model = build_backbone(dict(type='ResNetV1d', depth=50, base_channels=8))
    assert model.deep_stem and model.avg_down
    assert [type(m).__name__ for m in model.stem][::3] == ['Conv2d'] * 3
    # pool then a stride-1 1x1 conv, the pool even at stride 1 (identity)
    # as MMDetection 2.28 builds it (its ResNeSt checkpoints' keys)
    for layer, stride in ((model.layer1, 1), (model.layer2, 2)):
        pool, conv = layer[0].downsample[:2]
        assert isinstance(pool, nn.AvgPool2d) and pool.stride == stride
        assert conv.stride == (1, 1)
    out = model.eval()(torch.rand(1, 3, 32, 32))[-1]
    assert out.shape == (1, 256, 1, 1)


def test_dropblock_drops_whole_blocks_while_training():
    torch.manual_seed(0)
    drop = DropBlock(drop_prob=0.3, block_size=3, warmup_iters=0)
    x = torch.ones(2, 4, 12, 12)
    assert torch.equal(drop.eval()(x), x)
    out = drop.train()(x)
    kept = out != 0
    assert 0 < kept.float().mean() < 1
    # kept values are rescaled so the mean stays 1
    assert torch.allclose(out.mean(), torch.tensor(1.0), atol=1e-4)
    # every dropped pixel lies in a fully dropped 3x3 square
    dropped = (~kept).float()
    full = -nn.functional.max_pool2d(-dropped, 3, stride=1)  # erosion
    grown = nn.functional.max_pool2d(
        nn.functional.pad(full, [2] * 4), 3, stride=1
    )
    assert torch.equal(grown, dropped)


def test_dropblock_gamma_and_warmup():
    drop = DropBlock(drop_prob=0.2, block_size=5, warmup_iters=4)
    drop.iter_cnt = 1
    expected = 0.2 * 20 * 30 / (16 * 26 * 25) * (1 / 4)
    assert math.isclose(drop._compute_gamma((20, 30)), expected)
    drop.iter_cnt = 5
    assert math.isclose(drop._compute_gamma((20, 30)), expected * 4)
    for bad in (
        dict(drop_prob=0.1, block_size=4),
        dict(drop_prob=0.0, block_size=3),
        dict(drop_prob=0.1, block_size=3, warmup_iters=-1),
    ):
        with pytest.raises(AssertionError):
            DropBlock(**bad)
    plugins = [dict(cfg=dict(type='DropBlock', drop_prob=0.1, block_size=3),
                    position='after_conv3')]  # fmt: skip
    assert isinstance(resnet(plugins=plugins).layer1[0].drop_block, DropBlock)


@pytest.mark.parametrize('norm', ['SyncBN', 'MMSyncBN'])
def test_sync_bn_builds_and_runs_without_a_process_group(norm):
    bn = resnet(**ONE_STAGE)
    sync = resnet(
        **ONE_STAGE,
        norm_cfg=dict(type=norm, requires_grad=True),
    )
    assert isinstance(sync.bn1, nn.SyncBatchNorm)
    assert list(sync.state_dict()) == list(bn.state_dict())
    sync.load_state_dict(bn.state_dict())
    x = torch.rand(2, 3, 16, 16)
    bn.train(), sync.train()
    assert torch.allclose(bn(x)[0], sync(x)[0], atol=1e-6)
    with pytest.raises(AssertionError, match='stats_mode'):
        resnet(norm_cfg=dict(type='MMSyncBN', stats_mode='mean'))


def test_c4_shared_head_layout_and_norm_eval():
    head = build_shared_head(
        dict(type='ResLayer', depth=50, stage=3, style='caffe')
    )
    names = {k.split('.')[0] for k in head.state_dict()}
    assert names == {'layer4'} and len(head.layer4) == 3
    assert head.layer4[0].conv1.stride == (2, 2)  # caffe: on the 1x1
    head.init_weights()
    out = head(torch.rand(2, 1024, 14, 14))
    assert out.shape == (2, 2048, 7, 7)
    head.train()
    assert not head.layer4[0].bn1.training
    with pytest.raises(AssertionError, match='init_cfg and pretrained'):
        build_shared_head(
            dict(
                type='ResLayer',
                depth=50,
                pretrained='a.pth',
                init_cfg=dict(type='Pretrained', checkpoint='a.pth'),
            )
        )


def _res2_middle(block, x):
    """The paper's hierarchy written out: y_1 = K_1(x_1), y_i = K_i(x_i +
    y_(i-1)) ('normal') or K_i(x_i) ('stage'), the last group passed on
    (pooled if the block strides)."""
    xs = torch.split(x, block.width, dim=1)
    ys = []
    for i in range(block.scales - 1):
        inp = xs[i]
        if i > 0 and block.stage_type == 'normal':
            inp = inp + ys[-1]
        ys.append(torch.relu(block.bns[i](block.convs[i](inp))))
    last = xs[-1]
    if hasattr(block, 'pool'):
        last = block.pool(last)
    return torch.cat(ys + [last], dim=1)


@pytest.mark.parametrize('index', [0, 1])  # 'stage' (strided), 'normal'
def test_res2net_block_hierarchy(index):
    torch.manual_seed(0)
    model = build_backbone(
        dict(type='Res2Net', depth=50, scales=4, base_width=4, base_channels=8)
    ).eval()
    block = model.layer2[index]
    assert block.stage_type == ('stage' if index == 0 else 'normal')
    assert block.width == 8 and len(block.convs) == 3  # floor(16 * 4 / 8)
    assert not hasattr(block, 'conv2')
    x = torch.rand(2, 32 if index == 0 else 64, 8, 8)
    mid = torch.relu(block.norm1(block.conv1(x)))
    identity = x if block.downsample is None else block.downsample(x)
    expected = torch.relu(
        block.norm3(block.conv3(_res2_middle(block, mid))) + identity
    )
    assert torch.allclose(block(x), expected, atol=1e-6)
    # deep stem and average-pooled shortcuts (the pool even at stride 1)
    assert isinstance(model.layer1[0].downsample[0], nn.AvgPool2d)
    outs = model(torch.rand(1, 3, 32, 32))
    assert [o.shape[1] for o in outs] == [32, 64, 128, 256]
    with pytest.raises(AssertionError, match='scales'):
        build_backbone(dict(type='Res2Net', depth=50, scales=1))


def test_split_attention_conv_mixes_splits_by_softmax():
    """out[:, g * C' + c] = sum over r of softmax_r(logit[g, r, c]) *
    split_r[g * C' + c], the logits fc2(relu(norm1(fc1(mean over the
    image of the sum of the splits)))) laid out group, radix, channel."""
    from mmdet.models.backbones.resnest import SplitAttentionConv2d

    torch.manual_seed(0)
    radix, groups, channels = 2, 2, 8
    conv = SplitAttentionConv2d(
        8, channels, 3, padding=1, groups=groups, radix=radix
    ).eval()
    for bn in (conv.norm0, conv.norm1):
        nn.init.uniform_(bn.running_mean, -0.2, 0.2)
    x = torch.rand(2, 8, 5, 5)
    feats = torch.relu(conv.norm0(conv.conv(x)))  # (B, radix * channels)
    pooled = sum(
        feats[:, r * channels : (r + 1) * channels] for r in range(radix)
    ).mean(dim=(2, 3), keepdim=True)
    logits = conv.fc2(torch.relu(conv.norm1(conv.fc1(pooled)))).flatten(1)
    per_group = channels // groups
    expected = torch.zeros(2, channels, 5, 5)
    for g in range(groups):
        for c in range(per_group):
            idx = [
                g * radix * per_group + r * per_group + c for r in range(radix)
            ]
            weights = torch.softmax(logits[:, idx], dim=1)
            ch = g * per_group + c
            for r in range(radix):
                split = feats[:, r * channels + ch]
                expected[:, ch] += weights[:, r, None, None] * split
    assert torch.allclose(conv(x), expected, atol=1e-6)


def test_resnest_blocks():
    model = build_backbone(
        dict(type='ResNeSt', depth=50, base_channels=8, stem_channels=16)
    ).eval()
    block = model.layer2[0]
    assert not hasattr(block, 'norm2')
    assert block.avg_down_stride and block.conv2.conv.stride == (1, 1)
    assert block.avd_layer.stride == 2
    assert not model.layer2[1].avg_down_stride
    assert block.conv2.conv.groups == 2  # groups * radix
    outs = model(torch.rand(1, 3, 32, 32))
    assert [o.shape[1:] for o in outs] == [
        (32, 8, 8),
        (64, 4, 4),
        (128, 2, 2),
        (256, 1, 1),
    ]
