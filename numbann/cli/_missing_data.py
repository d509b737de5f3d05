"""How the command line explains data it cannot find, download or read: short, in plain
words, ending with what to do."""

#: why numbann looked in a directory, by DatasetNotFoundError.source
_ORIGINS = {"data_dir": "--data-dir", "NUMBANN_DATA": "$NUMBANN_DATA/{name}",
            "cache": "the per-user cache"}


def explain_not_found(exc, command, download):
    """The message for a DatasetNotFoundError *exc* raised for *command*.

    One line, or, after a failed download, one more line per mirror with its
    reason and then the two ways forward: the files you have, or the digits.
    """
    place = f"{exc.directory} ({_ORIGINS[exc.source].format(name=exc.name)})"
    problem = exc.problem if download else (
        "files are missing and downloading is off (--no-download)")
    headline = f"{exc.title} data not available in {place}: {problem}"
    files = (f"--data-dir DIR (the directory with the four .gz files) or NUMBANN_DATA=ROOT "
             f"(files in ROOT/{exc.name}/)")
    digits = f"numbann {'gradcheck' if command == 'gradcheck' else 'train'} --dataset digits"
    if exc.failures:
        return "\n".join([
            headline,
            *(f"  {failure.url}: {failure.reason}" for failure in exc.failures),
            f"Either point numbann at the {exc.title} files you have: {files},",
            f"or try the 8x8 digits shipped with numbann, which need no download: {digits}",
        ])
    fixes = [files]
    if not download:
        fixes.append("drop --no-download to download them")
    fixes.append(f"try {digits}, which needs no download")
    return f"{headline}. Fix: " + ", or ".join(fixes)


def explain_corrupt(exc):
    """The message for a CorruptDataError *exc*: which file, what is wrong, what to do."""
    return (f"corrupt data file {exc}. Delete or replace it (numbann downloads missing files "
            "again)")
