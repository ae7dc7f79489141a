"""The start/end-level bookkeeping shared by MMDetection's FPN variants."""

from mmdet.utils.arg_errors import check_arg


def backbone_end_level(owner, num_ins, num_outs, start_level, end_level):
    """Index after the last used input level; checks ``num_outs`` the way
    MMDetection does (end_level=-1: extra levels allowed, else none)."""
    if end_level in (-1, num_ins - 1):
        check_arg(
            num_outs >= num_ins - start_level,
            owner,
            f'num_outs={num_outs} must cover every used input level '
            f'({num_ins - start_level})',
        )
        return num_ins
    check_arg(
        end_level < num_ins and num_outs == end_level - start_level + 1,
        owner,
        f'end_level={end_level} must be below len(in_channels) and '
        'num_outs must be end_level - start_level + 1',
    )
    return end_level + 1
