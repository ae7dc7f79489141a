"""Every config of ``configs/`` that has the path of one of MMDetection
2.28.2's configs builds a detector with exactly the parameters and the
state-dict keys and shapes MMDetection 2.28.2 built for it (pretrained
weights off), so that config's model-zoo checkpoint loads strictly.

The reference, ``tests/data/reference/mmdet228_configs.json.gz``, holds one
entry per MMDetection 2.28.2 config file: ``params`` and ``state_dict``
(key -> shape) where MMDetection built it, ``error`` where it did not.
"""

import glob
import gzip
import json
import os.path as osp

import pytest
from mmcv import Config

from mmdet.models import build_detector

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
CONFIGS = osp.join(ROOT, 'configs')
REFERENCE = osp.join(
    ROOT, 'tests', 'data', 'reference', 'mmdet228_configs.json.gz'
)


def load_reference():
    with gzip.open(REFERENCE, 'rt') as f:
        return json.load(f)


REF = load_reference()


def stock_configs():
    """Paths (relative to ``configs/``) that MMDetection 2.28.2 also has
    and built."""
    found = glob.glob(osp.join(CONFIGS, '*', '*.py'))
    rels = (osp.relpath(p, CONFIGS) for p in found)
    return sorted(r for r in rels if 'params' in REF.get(r, {}))


def without_pretrained(cfg):
    """``cfg`` (a nested dict/list) with pretrained weights switched off,
    as the reference was built."""
    if isinstance(cfg, dict):
        out = {k: without_pretrained(v) for k, v in cfg.items()}
        if 'pretrained' in out:
            out['pretrained'] = None
        init = out.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            out['init_cfg'] = None
        return out
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(without_pretrained(v) for v in cfg)
    return cfg


def test_reference_covers_mmdetection_tree():
    # 634 config files; the 31 MMDetection could not build carry an error
    assert len(REF) == 634
    failed = [k for k, v in REF.items() if 'error' in v]
    assert len(failed) == 31
    assert all('state_dict' in v for k, v in REF.items() if k not in failed)


@pytest.mark.parametrize('rel', stock_configs())
def test_config_matches_mmdetection_state_dict(rel):
    cfg = Config.fromfile(osp.join(CONFIGS, rel))
    model_cfg = without_pretrained(cfg._cfg_dict.to_dict()['model'])
    model = build_detector(Config(dict(model=model_cfg)).model)
    ref = REF[rel]
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    expected = {k: list(v) for k, v in ref['state_dict'].items()}
    assert sorted(set(expected) - set(shapes)) == [], 'missing keys'
    assert sorted(set(shapes) - set(expected)) == [], 'unexpected keys'
    assert shapes == expected
    assert sum(p.numel() for p in model.parameters()) == ref['params']
