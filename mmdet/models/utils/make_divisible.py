"""Channel rounding of the MobileNet family (MMDetection's
``mmdet.models.utils.make_divisible``)."""


def make_divisible(value, divisor, min_value=None, min_ratio=0.9):
    """``value`` rounded to the nearest multiple of ``divisor`` (at least
    ``min_value``, default ``divisor``), one ``divisor`` more when rounding
    lost more than ``1 - min_ratio`` of it."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < min_ratio * value:
        rounded += divisor
    return rounded
