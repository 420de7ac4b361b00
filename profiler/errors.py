"""What can be wrong with gradient samples. The HTTP layer maps each class to a status code."""


class GradientError(ValueError):
    """A gradient sample cannot be used; `group` names it (None when the problem is not one group's)."""

    def __init__(self, detail: str, *, group: str | None = None) -> None:
        self.detail = detail
        self.group = group
        super().__init__(f"group {group!r}: {detail}" if group is not None else detail)


class InvalidGradients(GradientError):  # noqa: N818 (public name)
    """Values or shapes that cannot describe a gradient stream (ragged rows, NaN, out-of-range indices)."""


class UnsupportedGradientFormat(GradientError):  # noqa: N818 (public name)
    """A container or dtype that is refused (pickle, .pt, bfloat16, unknown file type)."""


class GradientLimitExceeded(GradientError):  # noqa: N818 (public name)
    """More elements, groups or decompressed bytes than the configured limits allow."""


class InvalidReplay(GradientError):  # noqa: N818 (named like its siblings)
    """A replay request that names an unknown method or framework or an invalid hyperparameter."""
