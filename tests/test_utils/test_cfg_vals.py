"""``${key}`` references and ``$MMDET_DATASETS`` in configs, applied when
a config is loaded (as MMDetection 2.28's tools apply them)."""

import pytest
from mmcv import Config

from mmdet.apis.builders import load_config
from mmdet.utils import replace_cfg_vals, update_data_root


def test_references_are_replaced():
    cfg = Config(
        dict(
            iou=0.6,
            scales=[(1333, 800)],
            nested=dict(deep=dict(name='hello')),
            exact='${iou}',
            whole_list='${scales}',
            inside='run_${iou}_${nested.deep.name}.log',
            in_lists=[dict(v='${nested.deep.name}'), ('${iou}', 1)],
            untouched='$iou {iou}',
        )
    )
    out = replace_cfg_vals(cfg)
    assert out.exact == 0.6 and isinstance(out.exact, float)
    assert out.whole_list == [(1333, 800)]
    assert out.inside == 'run_0.6_hello.log'
    assert out.in_lists[0].v == 'hello' and out.in_lists[1] == (0.6, 1)
    assert out.untouched == '$iou {iou}'
    assert cfg.exact == '${iou}'  # a copy: the original is unchanged


def test_reference_inside_a_string_must_be_a_scalar():
    cfg = Config(dict(scales=[(1, 2)], name='x_${scales}'))
    with pytest.raises(AssertionError, match='scales'):
        replace_cfg_vals(cfg)
    with pytest.raises(KeyError):
        replace_cfg_vals(Config(dict(a='${missing}')))


def test_model_wrapper_replaces_model():
    cfg = Config(dict(model=dict(type='A'), model_wrapper=dict(type='B')))
    out = replace_cfg_vals(cfg)
    assert out.model.type == 'B' and 'model_wrapper' not in out


def test_update_data_root(monkeypatch):
    def cfg():
        return Config(
            dict(
                data_root='data/coco/',
                data=dict(
                    train=dict(ann_file='data/coco/a.json'),
                    test=dict(img_prefix='other/'),
                    val=[dict(ann_file='data/coco/b.json')],
                ),
            )
        )

    monkeypatch.delenv('MMDET_DATASETS', raising=False)
    unchanged = cfg()
    update_data_root(unchanged)
    assert unchanged.data.train.ann_file == 'data/coco/a.json'
    monkeypatch.setenv('MMDET_DATASETS', '/mnt/coco/')
    moved = cfg()
    update_data_root(moved)
    assert moved.data_root == '/mnt/coco/'
    assert moved.data.train.ann_file == '/mnt/coco/a.json'
    assert moved.data.test.img_prefix == 'other/'
    # as in MMDetection, lists are not searched
    assert moved.data.val[0].ann_file == 'data/coco/b.json'
    with pytest.raises(TypeError):
        update_data_root(dict(moved))


def test_load_config_applies_both(tmp_path, monkeypatch):
    path = tmp_path / 'cfg.py'
    path.write_text(
        "data_root = 'data/x/'\n"
        "thr = 0.25\n"
        "model = dict(test_cfg=dict(score_thr='${thr}'))\n"
        "data = dict(train=dict(ann_file=data_root + 'a.json'))\n"
    )
    monkeypatch.setenv('MMDET_DATASETS', '/d/')
    cfg = load_config(str(path), {'thr': 0.5})
    assert cfg.model.test_cfg.score_thr == 0.25  # resolved before overrides
    assert cfg.thr == 0.5
    assert cfg.data.train.ann_file == '/d/a.json'
