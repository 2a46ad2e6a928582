"""Content delivery: a pack's files fetched from central's web server into a store by sha256.

* :mod:`.file_spec` — :class:`FileSpec`, one file as a manifest lists it (path, size, sha256, media type).
* :mod:`.blobs` — :class:`BlobStore`, the content-addressed store on disk; pack folders of hard links.
* :mod:`.download` — :class:`Downloader`, HTTP with Range resume, retries, two at a time, window, cap, quota.
* :mod:`.window`, :mod:`.throttle` — the daily download hours and the bandwidth token bucket.
* :mod:`.config` — :class:`DownloadConfig`, the ``[content.download]`` settings.

What a pack *is* (its signed manifest, when it becomes active) is decided elsewhere;
this package only gets its bytes onto the disk, verified.
"""

from .blobs import BlobError, BlobMismatch, BlobMissing, BlobStore
from .config import DownloadConfig
from .download import DownloadCancelled, Downloader, DownloadError, DownloadPolicy
from .file_spec import FileSpec
from .window import DownloadWindow

__all__ = ["BlobError", "BlobMismatch", "BlobMissing", "BlobStore", "DownloadCancelled", "DownloadConfig",
           "DownloadError", "DownloadPolicy", "DownloadWindow", "Downloader", "FileSpec"]
