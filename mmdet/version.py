"""Version of the package and the mmcv versions it works with.

This module imports nothing but the standard library, so that ``import mmdet``
can check mmcv before anything else touches it.
"""

import re

__version__ = '2.28.2+odconv.0.1.0'
short_version = __version__

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
    'removed), or run `bash tools/install.sh`.'
)


# order of pre-/post-release tags; a final release is 0
PRE_RELEASE_RANK = {'dev': -4, 'a': -3, 'b': -2, 'rc': -1, 'post': 1}
VERSION_PATTERN = re.compile(
    r'(\d+(?:\.\d+)*)[.\-_]?(dev|a|b|rc|post)?[.\-_]?(\d*)'
)


def digit_version(version_str: str) -> tuple:
    """Turn '1.7.2' (or '1.7.2rc1', '2.14.1+cu130') into a comparable tuple.

    The tuple is (major, minor, patch, tag, number): ``tag`` ranks
    dev < a < b < rc < (final release, 0) < post and ``number`` is the
    tag's number, so '1.0.0rc1' < '1.0.0rc2' < '1.0.0' < '1.0.1rc1'.
    Raises ValueError for a string without a leading version number.
    """
    match = VERSION_PATTERN.match(version_str.strip().lstrip('vV'))
    if match is None:
        raise ValueError(f'cannot parse the version {version_str!r}')
    numbers = [int(n) for n in match.group(1).split('.')[:3]]
    numbers += [0] * (3 - len(numbers))
    tag = PRE_RELEASE_RANK.get(match.group(2), 0)
    return tuple(numbers) + (tag, int(match.group(3) or 0))


def check_mmcv_version(version_str) -> None:
    """Raise ImportError unless ``version_str`` is a supported mmcv version.

    ``None`` means mmcv is not installed at all.
    """
    if version_str is None:
        raise ImportError('mmcv is not installed. ' + MMCV_INSTALL_HINT)
    version = digit_version(version_str)
    # compare the release numbers with the upper bound, so that 2.0.0rc1 is
    # refused too: the mmcv 2.0 release candidates already have the new API
    if not (
        digit_version(MMCV_MIN) <= version
        and version[:3] < digit_version(MMCV_MAX)[:3]
    ):
        raise ImportError(
            f'mmcv=={version_str} is installed, which is not '
            'supported. ' + MMCV_INSTALL_HINT
        )


def parse_version_info(version_str):
    """``'2.28.2'`` -> ``(2, 28, 2)``; a pre-release keeps its tag as the
    last element (``'2.28.2rc1'`` -> ``(2, 28, 2, 'rc1')``) and a local
    part (``+odconv...``) is dropped."""
    info = []
    for part in version_str.split('+')[0].split('.'):
        if part.isdigit():
            info.append(int(part))
        else:
            match = re.match(r'(\d+)(\D.*)', part)
            if match is None:
                info.append(part)
            else:
                info += [int(match.group(1)), match.group(2)]
    return tuple(info)


version_info = parse_version_info(__version__)
