"""Small tensor helpers shared by the heads."""


def unmap(data, count, inds, fill=0):
    """Scatter ``data`` back into a tensor of ``count`` rows.

    Args:
        data (Tensor): (k, ...) values of the selected rows.
        count (int): rows of the result.
        inds (Tensor): (count,) bool (or 0/1) mask with k True entries.
        fill (number): value of the other rows.

    Returns:
        Tensor: (count, ...).
    """
    ret = data.new_full((count, ) + tuple(data.shape[1:]), fill)
    ret[inds.bool()] = data
    return ret
