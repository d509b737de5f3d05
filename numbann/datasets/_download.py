"""Downloading a set's files from its mirrors: timeouts, verification, reasons in plain words.

Each file is tried on the mirrors in turn. Connecting to a mirror and getting
its answer (status and headers) may take ``connect_timeout`` seconds; after
that each read may wait ``timeout`` seconds for data. A mirror that cannot be
reached at all (no network or DNS, refused, reset, no answer) is not asked
again for the other files of the same load, so an offline machine fails
within one connect timeout per mirror, not one per file and mirror.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import http.client
import math
import numbers
import shutil
import socket
import ssl
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from .._io import atomic_write
from .._version import __version__
from ._errors import CorruptDataError
from ._location import dir_writable, not_found
from ._registry import FILES, read_member


class MirrorFailure(NamedTuple):
    """Why downloading *url* failed."""

    url: str
    #: plain words: "no network or DNS (…)", "timed out (…)", "HTTP 404 Not Found", …
    reason: str
    #: True when no connection to the mirror could be made at all
    unreachable: bool
    #: the full problem, where there is more to say than *reason* (a file that did not verify)
    detail: str = ""


@dataclass(frozen=True)
class Download:
    """Whether and how the missing files of one load are downloaded."""

    enabled: bool
    mirrors: tuple
    #: seconds a read may wait for data
    timeout: float
    #: seconds to connect and get the answer (the built-in client; an *opener* has *timeout*)
    connect_timeout: float
    #: ``opener(url, timeout=...)`` returning a binary response, or None for the built-in client
    opener: object = None
    #: mirror -> its MirrorFailure, for the mirrors found unreachable during this load
    unreachable: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in ("timeout", "connect_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
                    0 < value < math.inf):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")

    @property
    def answer_timeout(self):
        """Seconds a mirror is given to answer, as messages promise it."""
        return self.timeout if self.opener is not None else self.connect_timeout

    def open(self, url):
        """The response to a GET of *url*."""
        if self.opener is not None:
            return self.opener(url, timeout=self.timeout)
        return urlopen(url, timeout=self.timeout, connect_timeout=self.connect_timeout)


def fetch(ds, key, place, net, note="", missing=None):
    """Download file *key* of *ds* into *place*, trying the mirrors in turn; returns its path.

    Raises DatasetNotFoundError with every mirror's reason when none of them
    delivers a file that verifies.
    """
    filename = FILES[key]
    missing = [key] if missing is None else missing
    try:
        place.directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise not_found(ds, place, missing, f"cannot create {place.directory} ({err})") from None
    if not dir_writable(place.directory):
        problem = f"{place.directory} is read-only, so {filename} cannot be downloaded into it"
        raise not_found(ds, place, missing, problem + note)
    failures = []
    for mirror in net.mirrors:
        url = mirror.rstrip("/") + "/" + filename
        earlier = net.unreachable.get(mirror)
        if earlier is not None:
            failures.append(earlier._replace(
                url=url, reason=f"{earlier.reason} (for an earlier file; not tried again)"))
            continue
        failed = _download(ds, key, url, place.directory / filename, net)
        if failed is None:
            return place.directory / filename
        if failed.unreachable:
            net.unreachable[mirror] = failed
        failures.append(failed)
    if not failures:
        problem = f"downloading {filename} failed{note}: no mirrors given"
    elif all(f.unreachable for f in failures):
        problem = f"no mirror could be reached to download {filename}{note}"
    else:
        problem = f"downloading {filename} failed on every mirror{note}"
    raise not_found(ds, place, missing, problem, failures)


def _download(ds, key, url, target, net):
    """Download *url* to *target* and verify it; returns None, or the MirrorFailure."""
    print(f"numbann: downloading {url} (giving up after {net.answer_timeout:g} s without an "
          "answer)", file=sys.stderr)
    connecting = False
    try:
        with atomic_write(target) as out:
            connecting = True
            with net.open(url) as response:
                connecting = False
                shutil.copyfileobj(response, out, 1 << 20)
                promised = getattr(response, "headers", {}).get("Content-Length")
            out.flush()
            _verify(ds, key, url, Path(out.name), promised)
    except (OSError, http.client.HTTPException, ValueError) as err:
        return failure(url, err, connecting, net)
    return None


def _verify(ds, key, url, path, promised):
    """Raise unless the downloaded *path* is complete and is the file *key* of *ds*."""
    size = path.stat().st_size
    if promised is not None and promised.isdigit() and int(promised) != size:
        raise OSError(f"the connection ended after {size} of {promised} bytes")
    if ds.gz_md5 is not None:
        md5 = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        if md5 != ds.gz_md5[FILES[key]]:
            raise CorruptDataError(url, f"checksum mismatch: md5 {md5} differs from the "
                                        "published one")
    try:
        read_member(ds, key, path)
    except CorruptDataError as err:
        raise CorruptDataError(url, err.problem) from None


#: errno values that mean there is no route to the mirror
_NO_ROUTE = {getattr(errno, name) for name in ("ENETUNREACH", "EHOSTUNREACH", "ENETDOWN",
                                              "EHOSTDOWN", "EADDRNOTAVAIL") if hasattr(errno, name)}


def failure(url, err, connecting, net):
    """The MirrorFailure of *err*, raised while connecting to *url* (or, if not
    *connecting*, while reading its answer or verifying the file)."""
    if isinstance(err, urllib.error.HTTPError):
        return MirrorFailure(url, f"HTTP {err.code} {err.reason}".rstrip(), False)
    if isinstance(err, urllib.error.URLError):  # urllib wraps what happened when connecting
        err = err.reason if isinstance(err.reason, BaseException) else ValueError(err.reason)
    if isinstance(err, CorruptDataError):
        summary = err.problem.replace("; ", ": ").split(": ", 1)[0]
        return MirrorFailure(url, summary, False, err.problem)
    return MirrorFailure(url, _plain(err, connecting, net, urlsplit(url).hostname), connecting)


def _plain(err, connecting, net, host):
    """*err*, a network or HTTP error, in plain words."""
    if isinstance(err, socket.gaierror):
        return f"no network or DNS (cannot look up {host})"
    if isinstance(err, TimeoutError):
        if connecting:
            return f"timed out (no answer within {net.answer_timeout:g} s)"
        return f"timed out (no data for {net.timeout:g} s)"
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    if isinstance(err, http.client.RemoteDisconnected):
        return "the server closed the connection without an answer"
    if isinstance(err, ConnectionResetError):
        return "connection reset"
    if isinstance(err, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({getattr(err, 'verify_message', None) or err})"
    if isinstance(err, ssl.SSLError):
        return f"TLS error ({err.reason or err})"
    if isinstance(err, OSError) and err.errno in _NO_ROUTE:
        return f"no route to {host} (network unreachable)"
    if isinstance(err, ValueError):
        return f"not a URL numbann can open ({err})"
    if isinstance(err, http.client.HTTPException):
        return f"not an HTTP answer ({type(err).__name__}: {err})"
    return (err.strerror if isinstance(err, OSError) and err.strerror else str(err)) or repr(err)


# --- the built-in HTTP client ----------------------------------------------------------


class _Response(http.client.HTTPResponse):
    """Reads the status line and headers under the connection's (connect) timeout, then
    lets each later read wait *read_timeout* seconds."""

    def __init__(self, sock, *args, read_timeout, **kwargs):
        super().__init__(sock, *args, **kwargs)
        self._numbann_socket = sock
        self._numbann_read_timeout = read_timeout

    def begin(self):
        super().begin()
        self._numbann_socket.settimeout(self._numbann_read_timeout)


class _ReadTimeout:
    """A connection whose responses switch to *read_timeout* once they have answered."""

    def __init__(self, *args, read_timeout, **kwargs):
        super().__init__(*args, **kwargs)
        self.response_class = functools.partial(_Response, read_timeout=read_timeout)


class _HTTPConnection(_ReadTimeout, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_ReadTimeout, http.client.HTTPSConnection):
    pass


class _Handler:
    """A urllib handler that opens its connections with a read timeout."""

    def __init__(self, read_timeout):
        super().__init__()
        self.read_timeout = read_timeout


class _HTTPHandler(_Handler, urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_HTTPConnection, req, read_timeout=self.read_timeout)


class _HTTPSHandler(_Handler, urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_HTTPSConnection, req, read_timeout=self.read_timeout)


def urlopen(url, *, timeout, connect_timeout):
    """GET *url* with urllib (proxies from the environment, redirects, TLS verified).

    Connecting and getting the answer (status and headers) may take
    *connect_timeout* seconds; then each read of the body may wait *timeout*.
    """
    opener = urllib.request.build_opener(_HTTPHandler(timeout), _HTTPSHandler(timeout))
    request = urllib.request.Request(url, headers={"User-Agent": f"numbann/{__version__}"})
    return opener.open(request, timeout=connect_timeout)

