"""The one exception root of vbbench and its per-stage subclasses.

Every expected failure — bad input, a missing file, a dataset that must be downloaded by hand, a
results file that does not validate — is a :class:`VbbenchError` whose message names the file and
the problem and says what to do. The command line catches this one type in one place
(:mod:`vbbench.cli`), prints the message and exits with the error's :attr:`~VbbenchError.exit_code`;
anything else is a bug and keeps its traceback.

The subclasses say which stage failed; some also derive from :class:`ValueError` so that library
callers who catch ``ValueError`` for bad values keep working.

Examples
--------
>>> issubclass(ScoreError, VbbenchError), ScoreError.exit_code
(True, 1)
>>> ManualDownloadRequired.exit_code
3
"""

from __future__ import annotations

__all__ = [
    "VbbenchError",
    "UsageError",
    "OutputError",
    "DatasetError",
    "DownloadError",
    "ChecksumError",
    "ArchiveError",
    "CorruptArchiveError",
    "ManualDownloadRequired",
    "PartialDatasetError",
    "VerifyError",
    "DriftError",
    "SplitError",
    "VariantError",
    "MatteError",
    "ScoreError",
    "ModelError",
    "VideoError",
    "ResultError",
    "BrowseError",
    "BusyError",
    "MANUAL_EXIT_CODE",
    "listing",
]

#: Exit code of a command when a dataset must first be downloaded by hand (the steps are printed).
MANUAL_EXIT_CODE = 3


class VbbenchError(Exception):
    """An expected failure; the message is the whole story a user needs."""

    #: Process exit code the command line uses for this error.
    exit_code: int = 1


class UsageError(VbbenchError, ValueError):
    """Options that do not go together, an unknown name, or a value of the wrong form."""


class OutputError(VbbenchError):
    """An output that cannot be written, or that would overwrite or lie inside an input."""


class BusyError(VbbenchError):
    """Another vbbench process holds the folder (its PID is in the message)."""


class DatasetError(VbbenchError, ValueError):
    """A dataset name, card or source that cannot be used."""


class DownloadError(DatasetError):
    """A download failed after all retries."""


class ChecksumError(DatasetError):
    """A file's SHA-256 differs from the expected one."""


class ArchiveError(DatasetError):
    """An archive is corrupt, truncated, too large, or holds an unsafe entry."""


class CorruptArchiveError(ArchiveError):
    """The archive's bytes are damaged (truncated, bad CRC, not an archive at all): fetch it again."""


class ManualDownloadRequired(DatasetError):
    """The dataset's data is not at hand; the message holds the exact manual steps."""

    exit_code = MANUAL_EXIT_CODE


class PartialDatasetError(DatasetError):
    """Fewer usable pairs than the card expects (beyond its known defects)."""


class VerifyError(DatasetError):
    """Verification failed (``--strict`` with defects, or nothing usable)."""


class DriftError(VerifyError):
    """The files differ from the lock manifest written by an earlier verification."""


class SplitError(DatasetError):
    """A split that cannot be made or that contradicts the committed split list."""


class VariantError(DatasetError):
    """An unknown or unprepared evaluation variant."""


class MatteError(VbbenchError, ValueError):
    """A file or array that cannot be used as a matte, trimap or image."""


class ScoreError(VbbenchError, ValueError):
    """Input that cannot be scored; the message names the files and what to do."""


class ModelError(VbbenchError, ValueError):
    """A model that cannot be found, loaded or run."""


class VideoError(VbbenchError, ValueError):
    """A video or clip folder that cannot be read, or a video that cannot be written."""


class ResultError(VbbenchError, ValueError):
    """A results file that cannot be used; the message names the file and the field."""


class BrowseError(VbbenchError, ValueError):
    """Score runs or folders that cannot be browsed."""


def listing(items: list[str], what: str, limit: int = 20) -> str:
    """``"3 <what>:\\n  a\\n  b\\n  c"``, at most ``limit`` items then ``… and N more``: how every
    error that names several files lists them.

    Examples
    --------
    >>> print(listing(["a.png", "b.png"], "files cannot be read"))
    2 files cannot be read:
      a.png
      b.png
    """
    shown = "\n  ".join(items[:limit])
    more = f"\n  … and {len(items) - limit} more" if len(items) > limit else ""
    return f"{len(items)} {what}:\n  {shown}{more}"
