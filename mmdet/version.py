"""Version of the package and the mmcv versions it works with.

This module imports nothing but the standard library, so that ``import mmdet``
can check mmcv before anything else touches it.
"""
import re

__version__ = '2.28.2+odconv.0.1.0'

# mmcv 1.x, pure Python (`mmcv`) or compiled (`mmcv-full`); the upper bound is
# exclusive: mmcv 2.0 renamed and removed the runner this package is built on.
MMCV_MIN = '1.7.0'
MMCV_MAX = '2.0.0'
MMCV_INSTALL_HINT = (
    f'MMDetection-ODConv needs mmcv>={MMCV_MIN},<{MMCV_MAX}: either the '
    'pure-Python `mmcv` 1.7.x or a compiled `mmcv-full` 1.7.x. Install the '
    'pure-Python one with:\n'
    '    pip install "setuptools<81" wheel && '
    'pip install --no-build-isolation mmcv==1.7.2\n'
    '(mmcv 1.7 builds with setuptools\' pkg_resources, which setuptools 81 '
    'removed), or run `bash tools/install.sh`.')


def digit_version(version_str: str) -> tuple:
    """Turn '1.7.2' (or '1.7.2rc1', '2.14.1+cu130') into a comparable tuple.

    The tuple is (major, minor, patch, pre) where ``pre`` is -1 for a
    pre-release and 0 otherwise, so '2.0.0rc1' < '2.0.0'.
    """
    release = version_str.split('+')[0]
    numbers = []
    pre = 0
    for piece in release.split('.')[:3]:
        match = re.match(r'(\d*)(.*)', piece)
        numbers.append(int(match.group(1) or 0))
        if match.group(2):  # 'rc1', 'a0', 'dev3': a pre-release
            pre = -1
            break
    numbers += [0] * (3 - len(numbers))
    return tuple(numbers) + (pre, )


def check_mmcv_version(version_str) -> None:
    """Raise ImportError unless ``version_str`` is a supported mmcv version.

    ``None`` means mmcv is not installed at all.
    """
    if version_str is None:
        raise ImportError('mmcv is not installed. ' + MMCV_INSTALL_HINT)
    version = digit_version(version_str)
    # compare the release numbers with the upper bound, so that 2.0.0rc1 is
    # refused too: the mmcv 2.0 release candidates already have the new API
    if not (digit_version(MMCV_MIN) <= version
            and version[:3] < digit_version(MMCV_MAX)[:3]):
        raise ImportError(f'mmcv=={version_str} is installed, which is not '
                          'supported. ' + MMCV_INSTALL_HINT)
