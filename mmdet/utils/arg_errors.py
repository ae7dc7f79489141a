"""Exceptions for constructor arguments of MMDetection 2.x configs.

MMDetection checks many arguments with ``assert``; code (and its unit tests)
written against it catch ``AssertionError``. The errors here are raised with
a message naming the key and the fix, and are ``AssertionError`` subclasses
so that such code keeps working.
"""


class InvalidArgumentError(ValueError, AssertionError):
    """An argument value MMDetection refuses too (with an assert)."""


class InvalidArgumentTypeError(TypeError, AssertionError):
    """An argument of a type MMDetection refuses too (with an assert)."""


class UnsupportedOptionError(NotImplementedError, AssertionError):
    """A valid MMDetection option this toolbox does not implement (e.g. a
    ResNet ``dcn`` or ``plugins``): refused, never silently ignored."""


def check_arg(condition, owner, message):
    """Raise ``InvalidArgumentError('<owner>: <message>')`` unless
    ``condition``."""
    if not condition:
        raise InvalidArgumentError(f'{owner}: {message}')


def unsupported(owner, key, value, fix):
    """``UnsupportedOptionError`` naming ``key`` and its ``value``."""
    return UnsupportedOptionError(
        f'{owner}: {key}={value!r} is not supported by this toolbox. {fix}'
    )
