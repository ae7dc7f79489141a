"""Class colours for drawing.

A palette is a list of RGB tuples (0..255), one per class. ``get_palette``
turns what a user or a data set gives (a name, one colour, a list) into one.
"""

import colorsys

import mmcv
import numpy as np

from mmdet.utils.arg_errors import InvalidArgumentError


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


# MMDetection 2.x's colours of the 80 COCO classes (RGB), in class order
COCO_PALETTE = [
    (220, 20, 60),
    (119, 11, 32),
    (0, 0, 142),
    (0, 0, 230),
    (106, 0, 228),
    (0, 60, 100),
    (0, 80, 100),
    (0, 0, 70),
    (0, 0, 192),
    (250, 170, 30),
    (100, 170, 30),
    (220, 220, 0),
    (175, 116, 175),
    (250, 0, 30),
    (165, 42, 42),
    (255, 77, 255),
    (0, 226, 252),
    (182, 182, 255),
    (0, 82, 0),
    (120, 166, 157),
    (110, 76, 0),
    (174, 57, 255),
    (199, 100, 0),
    (72, 0, 118),
    (255, 179, 240),
    (0, 125, 92),
    (209, 0, 151),
    (188, 208, 182),
    (0, 220, 176),
    (255, 99, 164),
    (92, 0, 73),
    (133, 129, 255),
    (78, 180, 255),
    (0, 228, 0),
    (174, 255, 243),
    (45, 89, 255),
    (134, 134, 103),
    (145, 148, 174),
    (255, 208, 186),
    (197, 226, 255),
    (171, 134, 1),
    (109, 63, 54),
    (207, 138, 255),
    (151, 0, 95),
    (9, 80, 61),
    (84, 105, 51),
    (74, 65, 105),
    (166, 196, 102),
    (208, 195, 210),
    (255, 109, 65),
    (0, 143, 149),
    (179, 0, 194),
    (209, 99, 106),
    (5, 121, 0),
    (227, 255, 205),
    (147, 186, 208),
    (153, 69, 1),
    (3, 95, 161),
    (163, 255, 0),
    (119, 0, 170),
    (0, 182, 199),
    (0, 165, 120),
    (183, 130, 88),
    (95, 32, 0),
    (130, 114, 135),
    (110, 129, 133),
    (166, 74, 118),
    (219, 142, 185),
    (79, 210, 114),
    (178, 90, 62),
    (65, 70, 15),
    (127, 167, 115),
    (59, 105, 106),
    (142, 108, 45),
    (196, 172, 0),
    (95, 54, 80),
    (128, 76, 255),
    (201, 57, 1),
    (246, 0, 122),
    (191, 162, 208),
]

# MMDetection's COCO-panoptic colours after the 80 COCO ones (its 53
# stuff classes)
COCO_PANOPTIC_EXTRA_PALETTE = [
    (255, 255, 128),
    (147, 211, 203),
    (150, 100, 100),
    (168, 171, 172),
    (146, 112, 198),
    (210, 170, 100),
    (92, 136, 89),
    (218, 88, 184),
    (241, 129, 0),
    (217, 17, 255),
    (124, 74, 181),
    (70, 70, 70),
    (255, 228, 255),
    (154, 208, 0),
    (193, 0, 92),
    (76, 91, 113),
    (255, 180, 195),
    (106, 154, 176),
    (230, 150, 140),
    (60, 143, 255),
    (128, 64, 128),
    (92, 82, 55),
    (254, 212, 124),
    (73, 77, 174),
    (255, 160, 98),
    (255, 255, 255),
    (104, 84, 109),
    (169, 164, 131),
    (225, 199, 255),
    (137, 54, 74),
    (135, 158, 223),
    (7, 246, 231),
    (107, 255, 200),
    (58, 41, 149),
    (183, 121, 142),
    (255, 73, 97),
    (107, 142, 35),
    (190, 153, 153),
    (146, 139, 141),
    (70, 130, 180),
    (134, 199, 156),
    (209, 226, 140),
    (96, 36, 108),
    (96, 96, 96),
    (64, 170, 64),
    (152, 251, 152),
    (208, 229, 228),
    (206, 186, 171),
    (152, 161, 64),
    (116, 112, 0),
    (0, 114, 143),
    (102, 102, 156),
    (250, 141, 255),
]

# MMDetection's PASCAL VOC colours (20 classes)
VOC_PALETTE = [
    (106, 0, 228),
    (119, 11, 32),
    (165, 42, 42),
    (0, 0, 192),
    (197, 226, 255),
    (0, 60, 100),
    (0, 0, 142),
    (255, 77, 255),
    (153, 69, 1),
    (120, 166, 157),
    (0, 182, 199),
    (0, 226, 252),
    (182, 182, 255),
    (0, 0, 230),
    (220, 20, 60),
    (163, 255, 0),
    (0, 82, 0),
    (3, 95, 161),
    (0, 80, 100),
    (183, 130, 88),
]

# MMDetection's Cityscapes colours (8 instance classes)
CITYSCAPES_PALETTE = [
    (220, 20, 60),
    (255, 0, 0),
    (0, 0, 142),
    (0, 0, 70),
    (0, 60, 100),
    (0, 80, 100),
    (0, 0, 230),
    (119, 11, 32),
]


DATASET_PALETTES = {
    'coco': COCO_PALETTE + COCO_PANOPTIC_EXTRA_PALETTE,
    'voc': VOC_PALETTE,
    'citys': CITYSCAPES_PALETTE,
}


def get_palette(palette, num_classes):
    """A list of ``num_classes`` RGB tuples.

    Args:
        palette (list[tuple] | tuple | str | None): a list of colours (used
            as is, must cover every class); one RGB tuple or colour name
            (every class that colour); 'random' or None (fixed random
            colours, seed 42); 'coco', 'voc' or 'citys' (the data set's
            palette, as MMDetection's; 'coco' continues with COCO-panoptic's
            colours up to 133 classes; beyond a palette, generated colours
            follow where MMDetection stops with an AssertionError).
        num_classes (int): how many colours are needed.

    Raises:
        InvalidArgumentError: a list with fewer colours than classes (an
            ``AssertionError`` too, as MMDetection asserts it).
    """
    if isinstance(palette, list):
        if len(palette) < num_classes:
            raise InvalidArgumentError(
                f'the palette has {len(palette)} colours for {num_classes} '
                'classes; give at least one colour per class'
            )
        return [tuple(int(v) for v in c) for c in palette[:num_classes]]
    if isinstance(palette, tuple) and len(palette) == 3:
        return [tuple(int(v) for v in palette)] * num_classes
    if palette is None or palette == 'random':
        rng = np.random.RandomState(42)
        colors = rng.randint(0, 256, size=(num_classes, 3))
        return [tuple(int(v) for v in c) for c in colors]
    if palette in DATASET_PALETTES:
        colours = DATASET_PALETTES[palette]
        extra = generated_palette(max(num_classes - len(colours), 0))
        return get_palette(colours + extra, num_classes)
    if isinstance(palette, str):  # a colour name mmcv knows ('green', ...)
        bgr = mmcv.color_val(palette)
        return [tuple(bgr[::-1])] * num_classes
    raise TypeError(
        f'invalid palette {palette!r}: use a list of RGB tuples, '
        "one RGB tuple, a colour name, 'random', 'coco', 'voc', 'citys' "
        'or None'
    )
