"""Backbones and necks of MMDetection 2.28.2 families whose detectors are
not here yet (SSD, YOLOv3, YOLOX, CornerNet, CentripetalNet, DetectoRS,
TridentNet): built from the configs' own part dicts, their state-dict keys
and shapes equal what MMDetection 2.28.2 built (the ``backbone.`` /
``neck.`` entries of the reference), so the model-zoo checkpoints' parts
load strictly.

``tests/data/mmdet228_backbone_cfgs.json``: the merged ``model.backbone``
(and RFP ``model.neck``) of each such MMDetection 2.28.2 config, with
pretrained weights switched off as the reference was built.
"""

import gzip
import json
import os.path as osp

import pytest

from mmdet.models import build_backbone, build_neck

DATA = osp.join(osp.dirname(osp.dirname(__file__)), 'data')
with open(osp.join(DATA, 'mmdet228_backbone_cfgs.json')) as f:
    PARTS = json.load(f)
with gzip.open(
    osp.join(DATA, 'reference', 'mmdet228_configs.json.gz'), 'rt'
) as f:
    REF = {k: v for k, v in json.load(f).items() if k in PARTS}

# above ~2.5 s to build on one core
SLOW = {
    (
        'centripetalnet/centripetalnet_hourglass104_mstest_16x6_210e_coco.py',
        'backbone',
    ),
    ('detectors/detectors_htc_r101_20e_coco.py', 'backbone'),
    ('detectors/detectors_htc_r101_20e_coco.py', 'neck'),
}


def unique_cases():
    """One (config, part) per distinct part dict (the rest are copies)."""
    seen, cases = set(), []
    for rel in sorted(PARTS):
        for part, cfg in sorted(PARTS[rel].items()):
            key = (part, json.dumps(cfg, sort_keys=True))
            if key in seen:
                continue
            seen.add(key)
            marks = [pytest.mark.slow] if (rel, part) in SLOW else []
            cases.append(pytest.param(rel, part, marks=marks))
    return cases


def test_every_config_of_these_families_is_listed():
    folders = {rel.split('/')[0] for rel in PARTS}
    assert folders == {
        'centripetalnet',
        'cornernet',
        'detectors',
        'ssd',
        'tridentnet',
        'yolo',
        'yolox',
    }
    assert set(PARTS) <= set(REF)
    assert all('params' in REF[rel] for rel in PARTS)


@pytest.mark.parametrize('rel, part', unique_cases())
def test_part_layout_matches_mmdet228(rel, part):
    build = build_backbone if part == 'backbone' else build_neck
    model = build(PARTS[rel][part])
    prefix = part + '.'
    reference = {
        k[len(prefix) :]: v
        for k, v in REF[rel]['state_dict'].items()
        if k.startswith(prefix)
    }
    layout = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert sorted(set(reference) - set(layout)) == []
    assert sorted(set(layout) - set(reference)) == []
    assert layout == reference
