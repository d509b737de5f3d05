"""Helpers for the dataset tests: hand-built IDX files, small fake sets, a local HTTP mirror."""

import contextlib
import gzip
import os
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from numbann.datasets._registry import FILES

SHARED_DATA = Path(os.environ.get("NUMBANN_DATA")
                   or Path(__file__).resolve().parents[2] / "shared" / "data")
MNIST_DIR = SHARED_DATA / "mnist"
DIGITS_CSV = SHARED_DATA / "digits" / "digits.csv.gz"

#: IDX type code -> big-endian dtype, written out here independently of the package
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def idx_bytes(array, code):
    """IDX file content built by hand with struct: magic, big-endian dims, big-endian data."""
    array = np.asarray(array)
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(IDX_TYPES[code]).tobytes()


def fake_set(rng, n_train=12, n_test=5):
    """The four arrays of a tiny MNIST-format set, by role (as FILES)."""
    return {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_set(directory, arrays, gz=True):
    """Write *arrays* (as fake_set returns) as the four IDX files; returns {role: path}."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key, filename in FILES.items():
        content = idx_bytes(arrays[key], 0x08)
        path = directory / (filename if gz else filename.removesuffix(".gz"))
        path.write_bytes(gzip.compress(content) if gz else content)
        paths[key] = path
    return paths


def set_bytes(arrays):
    """{file name: gzipped IDX content} of a fake set, for a mirror to serve."""
    return {FILES[key]: gzip.compress(idx_bytes(a, 0x08)) for key, a in arrays.items()}


class Mirror:
    """A local HTTP server on 127.0.0.1 that plays a download mirror.

    ``files`` maps a file name to its bytes; ``modes`` may make a file
    ``"half"`` (the connection drops after half of the promised bytes),
    ``"slow"`` (headers, then silence for 2 s), ``"late"`` (silence for
    ``delay`` seconds before the answer), ``"pause"`` (headers and half the
    bytes, ``delay`` seconds of silence, the rest), ``"missing"`` (404) or
    ``"forbidden"`` (403). ``requests`` lists the paths asked for.
    """

    def __init__(self, files, delay=1.0):
        self.files = dict(files)
        self.modes = {}
        self.requests = []
        self.delay = delay
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                name = self.path.lstrip("/")
                mirror.requests.append(name)
                mode = mirror.modes.get(name, "ok")
                if name not in mirror.files or mode in ("missing", "forbidden"):
                    self.send_error(403 if mode == "forbidden" else 404)
                    return
                if mode == "late":
                    time.sleep(mirror.delay)
                data = mirror.files[name]
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if mode == "slow":
                    time.sleep(2)
                elif mode in ("half", "pause"):
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    if mode == "half":
                        self.close_connection = True
                    else:
                        time.sleep(mirror.delay)
                        self.wfile.write(data[len(data) // 2 :])
                else:
                    self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class Unreachable:
    """A mirror on 127.0.0.1 that cannot be reached, in one of these ways (*how*):

    - ``"refuse"``: nothing listens on the port, so connecting is refused;
    - ``"reset"``: it accepts, reads the request and resets the connection;
    - ``"stall"``: it accepts, reads the request and never answers;
    - ``"stall-connect"``: its queue of connections is full and it never
      accepts, so connecting itself hangs (as behind a firewall that drops packets).

    ``connections`` counts the connections it accepted.
    """

    def __init__(self, how):
        self.how = how
        self.connections = 0
        self._open = []
        self._closed = threading.Event()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/"
        if how == "refuse":
            self._listener.close()
            return
        if how == "stall-connect":
            self._listener.listen(0)
            for _ in range(2):  # fill the accept queue; later connection attempts hang
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
                self._open.append(filler)
            return
        self._listener.listen(8)
        self._listener.settimeout(0.05)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.settimeout(2)
            with contextlib.suppress(OSError):
                conn.recv(65536)  # the request
            if self.how == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            else:
                self._open.append(conn)

    def close(self):
        self._closed.set()
        if self.how in ("reset", "stall"):
            self._thread.join(timeout=5)
        for sock in [*self._open, self._listener]:
            sock.close()


def listing(directory):
    """Names of all files below *directory*, relative, sorted."""
    directory = Path(directory)
    if not directory.exists():
        return []
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())
