"""docs/model_zoo.md is generated from configs/odconv/metafile.yml and is
current; the metafile's exact parameter counts are MMDetection 2.28's
reference counts; the zoo's numbers live in no other page."""

import glob
import gzip
import json
import os.path as osp
import re
import runpy
import shutil
import sys

import pytest
import yaml

from mmdet.analysis.model_zoo_page import (
    fill_page,
    generated_parts,
    load_models,
)

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
METAFILE = osp.join(ROOT, 'configs', 'odconv', 'metafile.yml')
PAGE = osp.join(ROOT, 'docs', 'model_zoo.md')
REFERENCE = osp.join(ROOT, 'tests', 'data', 'reference')


def read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def test_model_zoo_page_is_current():
    page = read(PAGE)
    assert fill_page(page, generated_parts(METAFILE)) == page, (
        'docs/model_zoo.md is stale: run python tools/misc/gen_model_zoo.py'
    )


def test_every_metafile_model_is_on_the_page():
    page = read(PAGE)
    for model in load_models(METAFILE):
        assert f'[{model["Name"]}](../{model["Config"]})' in page
        assert osp.isfile(osp.join(ROOT, model['Config']))


def _base_config(config):
    """The one ``_base_`` (relative to configs/) of an ODConv family config
    that swaps its backbone."""
    found = re.search(
        r"^_base_ = \(?\s*'\.\./([^']+)'", read(osp.join(ROOT, config)), re.M
    )
    assert found, f'{config} has no single _base_'
    return found.group(1)


def test_exact_counts_are_the_reference_counts():
    with open(osp.join(REFERENCE, 'params.json')) as f:
        odconv = json.load(f)['detectors']
    with gzip.open(osp.join(REFERENCE, 'mmdet228_configs.json.gz')) as f:
        stock = json.load(f)
    # what the OD-ResNet-50 (4x) backbone adds to a stock ResNet-50 one
    # (neither with a classifier), from the reference RetinaNet counts
    r50_delta = (
        odconv['retinanet_odconv4x_r50_fpn_1x_coco']
        - stock['retinanet/retinanet_r50_fpn_1x_coco.py']['params']
    )
    for model in load_models(METAFILE):
        count = model['Metadata']['Parameters']
        odconv_row = model['In Collection'] == 'ODConv'
        if odconv_row and model['Name'] in odconv:
            assert count == odconv[model['Name']], model['Name']
        elif odconv_row:
            # a family the ODConv reference does not cover: its stock
            # config's reference count with the backbone swapped
            assert '_odconv4x_r50_' in model['Name'], model['Name']
            base = _base_config(model['Config'])
            assert count == stock[base]['params'] + r50_delta, model['Name']
        else:
            path = model['Config'][len('configs/') :]
            assert count == stock[path]['params'], model['Name']


def run_tool(args, monkeypatch):
    """tools/misc/gen_model_zoo.py with ``args``; its exit code."""
    tool = osp.join(ROOT, 'tools', 'misc', 'gen_model_zoo.py')
    monkeypatch.setattr(sys, 'argv', [tool] + args)
    try:
        runpy.run_path(tool, run_name='__main__')
    except SystemExit as exit_info:
        return exit_info.code
    return 0


def test_a_changed_number_makes_the_page_stale(tmp_path, monkeypatch, capsys):
    with open(METAFILE, encoding='utf-8') as f:
        data = yaml.safe_load(f)
    data['Models'][0]['Results'][0]['Metrics']['box AP'] = 12.3
    changed = tmp_path / 'metafile.yml'
    changed.write_text(yaml.safe_dump(data, allow_unicode=True))
    page = tmp_path / 'model_zoo.md'
    shutil.copy(PAGE, page)
    args = ['--metafile', str(changed), '--page', str(page)]
    assert run_tool(args + ['--check'], monkeypatch) == 1
    assert 'stale' in capsys.readouterr().err
    assert run_tool(args, monkeypatch) == 0
    assert '| 12.3 |' in page.read_text(encoding='utf-8')
    assert run_tool(args + ['--check'], monkeypatch) == 0


def test_missing_markers_are_named():
    with pytest.raises(ValueError, match="'released'"):
        fill_page('# no markers\n', generated_parts(METAFILE))


def test_the_zoo_numbers_live_in_one_page():
    """The exact counts, published Params and AP (as table cells) appear
    in the generated page only, not in the README or another docs page."""
    figures = set()
    for model in load_models(METAFILE):
        meta = model['Metadata']
        figures.add(f'{meta["Parameters"]:,}')
        if 'Params' in meta:
            figures.add(meta['Params'])
        for result in model['Results']:
            for value in (result.get('Metrics') or {}).values():
                figures.add(f'| {value:.1f}')
    others = [osp.join(ROOT, 'README.md')] + [
        path
        for path in glob.glob(osp.join(ROOT, 'docs', '*.md'))
        if osp.basename(path) != 'model_zoo.md'
    ]
    for path in others:
        text = read(path)
        found = sorted(figure for figure in figures if figure in text)
        assert not found, f'{path} repeats {found}: link docs/model_zoo.md'
