"""What can go wrong with data files: a corrupt file, or a data set that is not there."""


class CorruptDataError(ValueError):
    """A data file is not what it should be: bad gzip, IDX header, size or checksum.

    ``path`` is the file (or URL) and ``problem`` what is wrong with it.
    """

    def __init__(self, path, problem):
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class DatasetNotFoundError(FileNotFoundError):
    """The data files are missing and could not be downloaded; the message says what to do.

    The facts behind the message, for programs that word their own:

    - ``name``: the data set ("mnist", "fashion-mnist", "kmnist"), ``title`` its name
      in texts ("MNIST");
    - ``directory``: the directory looked in (and downloaded into), a ``Path``;
    - ``source``: why that directory: ``"data_dir"`` (the argument),
      ``"NUMBANN_DATA"`` (the environment variable) or ``"cache"`` (the per-user cache);
    - ``missing``: the file names that are missing;
    - ``problem``: what went wrong, in one line;
    - ``failures``: for a failed download, one ``(url, reason, unreachable, detail)``
      per mirror: *reason* in plain words ("no network or DNS (…)", "timed out (…)",
      "HTTP 404 Not Found", "checksum mismatch"), *unreachable* true when no
      connection to the mirror could be made at all, *detail* the full problem
      of a file that did not verify (else ""); empty when nothing was downloaded.
    """

    def __init__(self, message, *, name=None, title=None, directory=None, source=None,
                 missing=(), problem="", failures=()):
        super().__init__(message)
        self.name = name
        self.title = title
        self.directory = directory
        self.source = source
        self.missing = tuple(missing)
        self.problem = problem
        self.failures = tuple(failures)
