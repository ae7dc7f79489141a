"""Class colours for drawing.

A palette is a list of RGB tuples (0..255), one per class. ``get_palette``
turns what a user or a data set gives (a name, one colour, a list) into one.
"""
import colorsys

import mmcv
import numpy as np


def palette_val(palette):
    """RGB 0..255 tuples -> RGB 0..1 tuples (matplotlib colours)."""
    return [tuple(c / 255 for c in color) for color in palette]


def generated_palette(num_classes, saturation=0.85, value=0.95):
    """``num_classes`` well-separated colours: hues spread around the circle
    (golden-ratio steps, so neighbouring labels differ), fixed S and V."""
    colors = []
    for i in range(num_classes):
        hue = (i * 0.618033988749895) % 1.0
        r, g, b = colorsys.hsv_to_rgb(hue, saturation, value)
        colors.append((int(r * 255), int(g * 255), int(b * 255)))
    return colors


# MMDetection data sets carry a PALETTE; COCO's here is generated
COCO_PALETTE = generated_palette(80)


def get_palette(palette, num_classes):
    """A list of ``num_classes`` RGB tuples.

    Args:
        palette (list[tuple] | tuple | str | None): a list of colours (used
            as is, must cover every class); one RGB tuple or colour name
            (every class that colour); 'random' or None (fixed random
            colours, seed 42); 'coco' (the COCO data set's palette).
        num_classes (int): how many colours are needed.
    """
    if isinstance(palette, list):
        if len(palette) < num_classes:
            raise ValueError(f'the palette has {len(palette)} colours for '
                             f'{num_classes} classes')
        return [tuple(int(v) for v in c) for c in palette[:num_classes]]
    if isinstance(palette, tuple) and len(palette) == 3:
        return [tuple(int(v) for v in palette)] * num_classes
    if palette is None or palette == 'random':
        rng = np.random.RandomState(42)
        colors = rng.randint(0, 256, size=(num_classes, 3))
        return [tuple(int(v) for v in c) for c in colors]
    if palette == 'coco':
        return get_palette(generated_palette(max(num_classes, 80)),
                           num_classes)
    if isinstance(palette, str):  # a colour name mmcv knows ('green', ...)
        bgr = mmcv.color_val(palette)
        return [tuple(bgr[::-1])] * num_classes
    raise TypeError(f'invalid palette {palette!r}: use a list of RGB tuples, '
                    "one RGB tuple, a colour name, 'random', 'coco' or None")
