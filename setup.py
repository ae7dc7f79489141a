"""Install MMDetection-ODConv: ``pip install -e .`` (extras: tests, deploy,
all).

mmcv is special: users may already have a compiled ``mmcv-full`` 1.7.x, and
pip would install the pure-Python ``mmcv`` beside it (both write the same
``mmcv`` package, so the second one overwrites the first). The mmcv
requirement is therefore only added when no mmcv-full 1.7.x is installed in
the interpreter that pip installs into.
"""

import json
import os.path as osp
import subprocess
import sys

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(name):
    """Requirement lines of ``requirements/<name>``, following ``-r`` lines."""
    lines = []
    with open(osp.join(HERE, 'requirements', name)) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if not line:
                continue
            if line.startswith('-r '):
                lines += read_requirements(osp.basename(line[3:].strip()))
            else:
                lines.append(line)
    return lines


def installed_mmcv_full_version():
    """Version of mmcv-full in the target interpreter, or None.

    pip builds the package in an isolated environment that hides the target's
    site-packages, so ask the interpreter itself in isolated mode (``-I``
    ignores the PYTHONPATH pip sets up).
    """
    probe = (
        'import importlib.metadata as m, json\n'
        'try:\n    print(json.dumps(m.version("mmcv-full")))\n'
        'except m.PackageNotFoundError:\n    print("null")\n'
    )
    try:
        out = subprocess.run(
            [sys.executable, '-I', '-c', probe],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return json.loads(out.stdout.strip() or 'null')
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def install_requires():
    requires = read_requirements('runtime.txt')
    full = installed_mmcv_full_version()
    if full is not None and full.startswith('1.7'):
        print(
            f'mmcv-full {full} is installed: not adding mmcv to the '
            'requirements',
            file=sys.stderr,
        )
    else:
        requires += read_requirements('mminstall.txt')
    return requires


def read_version():
    scope = {}
    with open(osp.join(HERE, 'mmdet', 'version.py')) as f:
        exec(compile(f.read(), 'mmdet/version.py', 'exec'), scope)
    return scope['__version__']


if __name__ == '__main__':
    setup(
        name='mmdet-odconv',
        version=read_version(),
        description='MMDetection-2.x-compatible detectors with ODConv '
        '(Omni-Dimensional Dynamic Convolution) backbones',
        long_description=open(osp.join(HERE, 'README.md')).read(),
        long_description_content_type='text/markdown',
        license='Apache License 2.0',
        python_requires='>=3.8',
        packages=find_packages(exclude=('configs', 'tools', 'demo', 'tests')),
        include_package_data=True,
        install_requires=install_requires(),
        extras_require={
            'tests': read_requirements('tests.txt'),
            'optional': read_requirements('optional.txt'),
            'deploy': read_requirements('deploy.txt'),
            'all': read_requirements('tests.txt')
            + read_requirements('optional.txt')
            + read_requirements('deploy.txt'),
            'mim': read_requirements('mminstall.txt'),
        },
        zip_safe=False,
    )
