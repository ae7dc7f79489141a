"""Pretrained weights by name, resolved as MMDetection 2.x (mmcv 1.7) does.

``checkpoint_file(name)`` turns what a config's ``pretrained=`` or
``init_cfg=dict(type='Pretrained', checkpoint=...)`` holds into a local
file:

* ``torchvision://<model>`` (``modelzoo://`` is the deprecated alias):
  torchvision's ImageNet weights, e.g. ``torchvision://resnet50``
  (the ImageNet-1k V1 weights, as mmcv picks them), or a weights enum name
  such as ``torchvision://ResNet50_Weights.IMAGENET1K_V2``;
* ``open-mmlab://<name>``: OpenMMLab's model-zoo names, e.g.
  ``open-mmlab://detectron2/resnet50_caffe`` (mmcv's ``open_mmlab.json``;
  deprecated names such as ``resnet50_caffe`` are mapped as mmcv maps them);
* ``mmcls://<name>``: MMClassification's names (mmcv's ``mmcls.json``);
* ``http://`` and ``https://`` URLs;
* anything else is a local path.

Downloads go once into torch's hub cache, ``$TORCH_HOME/hub/checkpoints/
<file name of the URL>``; a file already there is used without any network
access. When a download fails (offline, proxy, HTTP error) the error names
the URL and that exact path, so the file can be placed there by hand.
"""

import json
import os
import os.path as osp

import torch

SCHEMES = (
    'torchvision://',
    'modelzoo://',
    'open-mmlab://',
    'openmmlab://',
    'mmcls://',
    'http://',
    'https://',
)


class PretrainedDownloadError(ConnectionError):
    """A named checkpoint could not be downloaded into the hub cache."""


def _mmcv_zoo(name):
    """One of mmcv's model-zoo name tables (``open_mmlab.json``...)."""
    import mmcv

    with open(osp.join(mmcv.__path__[0], 'model_zoo', name)) as f:
        return json.load(f)


def torchvision_urls():
    """``{name: url}`` of torchvision's ImageNet weights: the classic names
    (``resnet50``: the V1 weights) and every ``<Enum>.<WEIGHTS>`` name of
    the installed torchvision."""
    import torchvision.models as models

    urls = dict(_mmcv_zoo('torchvision_0.12.json'))
    for cls_name, cls in vars(models).items():
        if cls_name.endswith('_Weights') and isinstance(cls, type):
            for weights in cls:
                urls[f'{cls_name}.{weights.name}'] = weights.url
    return urls


def _lookup(table, name, scheme):
    if name not in table:
        close = sorted(k for k in table if name.lower() in k.lower())
        hint = f' Similar names: {close[:10]}.' if close else ''
        raise KeyError(
            f'{scheme}{name}: unknown model name.{hint} Give an '
            'http(s) URL or a local file path instead.'
        )
    return table[name]


def checkpoint_url(name):
    """The URL (or, for some open-mmlab names, the path) behind ``name``;
    ``name`` itself when it is already a URL or a local path."""
    if name.startswith(('torchvision://', 'modelzoo://')):
        key = name.split('://', 1)[1]
        return _lookup(torchvision_urls(), key, 'torchvision://')
    if name.startswith(('open-mmlab://', 'openmmlab://')):
        key = name.split('://', 1)[1]
        key = _mmcv_zoo('deprecated.json').get(key, key)
        return _lookup(_mmcv_zoo('open_mmlab.json'), key, 'open-mmlab://')
    if name.startswith('mmcls://'):
        key = name.split('://', 1)[1]
        return _lookup(_mmcv_zoo('mmcls.json'), key, 'mmcls://')
    return name


def hub_cache_path(url):
    """Where torch's hub cache keeps the download of ``url``."""
    filename = osp.basename(url.split('?')[0])
    return osp.join(torch.hub.get_dir(), 'checkpoints', filename)


def download(url, name=None):
    """The local copy of ``url`` in the hub cache, downloaded if missing.

    Raises:
        PretrainedDownloadError: the download failed; names ``url`` and
            the path to place the file at by hand.
    """
    path = hub_cache_path(url)
    if osp.isfile(path):
        return path
    os.makedirs(osp.dirname(path), exist_ok=True)
    label = f'{name} ({url})' if name and name != url else url
    try:
        torch.hub.download_url_to_file(url, path, progress=False)
    except Exception as err:  # offline, proxy, HTTP error, disk...
        raise PretrainedDownloadError(
            f'could not download the pretrained weights {label}: {err}. '
            f'Without network access, download {url} elsewhere and place '
            f'the file at {path} (or set TORCH_HOME to a folder whose '
            'hub/checkpoints/ holds it), or give a local file path '
            'instead.'
        ) from err
    return path


def checkpoint_file(name):
    """The local file for ``name`` (a model-zoo name, URL or path).

    Named and http(s) checkpoints are downloaded into the hub cache once;
    a local path is returned unchanged (whether it exists is the reader's
    business).
    """
    name = os.fspath(name)
    url = checkpoint_url(name)
    if url.startswith(('http://', 'https://')):
        return download(url, name)
    return url


def is_remote(name):
    """Whether ``name`` is a model-zoo name or URL (not a local path)."""
    return isinstance(name, str) and name.startswith(SCHEMES)
