"""Bounds on what one request may ask the profiler to load and measure."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Resource limits, checked before anything of that size is allocated.

    Attributes:
        max_elements: dense elements (T·D summed over groups) one request may hold.
        max_groups: gradient groups per request.
        max_file_members: arrays in one ``.npz`` archive or tensors in one ``.safetensors`` file.
        max_decompressed_bytes: total uncompressed size of the members of an ``.npz`` archive.
        max_compression_ratio: uncompressed / compressed size allowed for any ``.npz`` member.
        max_header_bytes: size of an ``.npy`` header (numpy's own default is 10,000).
        max_metadata_bytes: size of a ``.safetensors`` JSON header.
        max_dimensions: dimensions of one array (``[T, ...]``, flattened to ``[T, D]``).
    """

    max_elements: int = 2**26
    max_groups: int = 256
    max_file_members: int = 1024
    max_decompressed_bytes: int = 2**29
    max_compression_ratio: float = 200.0
    max_header_bytes: int = 10_000
    max_metadata_bytes: int = 2**20
    max_dimensions: int = 8

    def __post_init__(self) -> None:
        for name in (
            "max_elements",
            "max_groups",
            "max_file_members",
            "max_decompressed_bytes",
            "max_header_bytes",
            "max_metadata_bytes",
            "max_dimensions",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"Invalid {name}: {getattr(self, name)}")
        if not self.max_compression_ratio >= 1:
            raise ValueError(f"Invalid max_compression_ratio: {self.max_compression_ratio}")
