"""Chain pipeline steps."""

from ..registry import PIPELINES


@PIPELINES.register_module()
class Compose:
    """Apply transforms in order to a ``results`` dict.

    Args:
        transforms (list[dict | callable]): configs (built from the
            ``PIPELINES`` registry) or callables.

    A transform returning None (e.g. a sample left without objects) stops
    the chain; ``__call__`` then returns None and the data set draws
    another sample.
    """

    def __init__(self, transforms):
        if not isinstance(transforms, (list, tuple)):
            raise TypeError(
                'transforms must be a list of configs or '
                f'callables, got {type(transforms)}'
            )
        self.transforms = []
        for transform in transforms:
            if isinstance(transform, dict):
                transform = PIPELINES.build(transform)
            elif not callable(transform):
                raise TypeError(
                    'a transform must be a config dict or a '
                    f'callable, got {type(transform)}'
                )
            self.transforms.append(transform)

    def __call__(self, data):
        for transform in self.transforms:
            data = transform(data)
            if data is None:
                return None
        return data

    def __repr__(self):
        body = ''.join(f'\n    {t}' for t in self.transforms)
        return f'{self.__class__.__name__}({body}\n)'
