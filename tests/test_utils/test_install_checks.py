"""The mmcv version check of ``import mmdet`` and setup.py's choice of
requirements with and without an mmcv-full already installed."""

import importlib.util
import os.path as osp

import pytest

from mmdet.version import MMCV_MAX, MMCV_MIN, check_mmcv_version, digit_version

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))


def test_digit_version_orders_releases():
    assert digit_version('1.7.2') > digit_version('1.7.0')
    assert digit_version('2.0.0rc1') < digit_version('2.0.0')
    assert digit_version('2.14.1+cu130') == digit_version('2.14.1')
    assert digit_version('1.7') == digit_version('1.7.0')


@pytest.mark.parametrize('version', ['1.7.0', '1.7.2', '1.7.9'])
def test_supported_mmcv_versions_pass(version):
    check_mmcv_version(version)


@pytest.mark.parametrize('version', ['1.6.2', '2.0.0rc4', '2.0.0', '2.1.0'])
def test_unsupported_mmcv_versions_name_the_fix(version):
    with pytest.raises(ImportError) as err:
        check_mmcv_version(version)
    msg = str(err.value)
    assert version in msg
    assert f'mmcv>={MMCV_MIN},<{MMCV_MAX}' in msg
    assert 'pip install' in msg and 'mmcv-full' in msg


def test_missing_mmcv_names_the_fix():
    with pytest.raises(ImportError, match='(?s)not installed.*pip install'):
        check_mmcv_version(None)


@pytest.fixture
def setup_module():
    spec = importlib.util.spec_from_file_location(
        'mmdet_setup', osp.join(ROOT, 'setup.py')
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # __name__ != '__main__': no setup()
    return module


def _names(requirements):
    return {
        r.split('>')[0].split('<')[0].split('=')[0].strip()
        for r in requirements
    }


def test_setup_requires_mmcv_without_mmcv_full(setup_module, monkeypatch):
    monkeypatch.setattr(
        setup_module, 'installed_mmcv_full_version', lambda: None
    )
    requires = setup_module.install_requires()
    assert 'mmcv>=1.7.0,<2.0.0' in requires
    assert {'torch', 'torchvision', 'pycocotools', 'numpy'} <= _names(requires)


def test_setup_keeps_an_installed_mmcv_full(setup_module, monkeypatch):
    monkeypatch.setattr(
        setup_module, 'installed_mmcv_full_version', lambda: '1.7.1'
    )
    assert 'mmcv' not in _names(setup_module.install_requires())


def test_setup_probe_sees_the_real_environment(setup_module):
    # mmcv-full is not installed in the test environment
    assert setup_module.installed_mmcv_full_version() is None


def test_requirements_files_are_complete(setup_module):
    everything = _names(setup_module.read_requirements('../requirements.txt'))
    for name in (
        'torch',
        'torchvision',
        'mmcv',
        'pytest',
        'pycocotools',
        'matplotlib',
        'terminaltables',
        'numpy',
        'setuptools',
    ):
        assert name in everything
