"""What a training run shows while it runs: progress bars or lines, and a notice when
the first compile keeps it waiting."""

import math
import sys
import threading
import time

import numpy as np

#: what a user waiting for the first compile of the engine is told (after NOTICE_AFTER s)
COMPILE_NOTICE = ("numbann: compiling the training engine for these array types - once; "
                  "it is cached for later runs (`numbann warmup` does it ahead of time) ...")
NOTICE_AFTER = 2.0


class notice_if_slow:
    """Context manager: print *message* to stderr if the block is still running after
    NOTICE_AFTER seconds (and how long it took, when it ends); silent unless *enabled*."""

    def __init__(self, enabled, message):
        self.enabled, self.message, self.shown = enabled, message, False

    def _show(self):
        self.shown = True
        print(self.message, file=sys.stderr, flush=True)

    def __enter__(self):
        self.start = time.perf_counter()
        self.timer = threading.Timer(NOTICE_AFTER, self._show) if self.enabled else None
        if self.timer is not None:
            self.timer.daemon = True
            self.timer.start()
        return self

    def __exit__(self, *exc):
        if self.timer is not None:
            self.timer.cancel()
            self.timer.join()
        if self.shown:
            print(f"numbann: done in {time.perf_counter() - self.start:.1f}s", file=sys.stderr,
                  flush=True)
        return False


class Progress:
    """Per-epoch progress: a tqdm bar (verbose=1 in a terminal or notebook), one line
    per epoch (verbose=2, or verbose=1 writing to a file), or nothing (0)."""

    CHUNKS = 50  # compiled calls per epoch while a bar is shown

    def __init__(self, verbose, epoch, epochs, n_batches):
        self.verbose, self.n_batches = verbose, n_batches
        self.label = f"Epoch {epoch + 1}/{epochs}"
        self.bar = None
        if verbose == 1 and _interactive():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=n_batches, desc=self.label, unit="batch", leave=True,
                            dynamic_ncols=True)

    def chunks(self):
        parts = self.CHUNKS if self.bar is not None else 1
        edges = np.linspace(0, self.n_batches, min(parts, self.n_batches) + 1).astype(int)
        return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]

    def update(self, finished, losses, correct, rows):
        if self.bar is not None and finished:
            self.bar.update(finished)
            self.bar.set_postfix(loss=f"{np.mean(losses):.4f}",
                                 accuracy=f"{correct.sum() / max(rows, 1):.4f}", refresh=False)

    def summary(self, logs, elapsed):
        text = " - ".join(f"{k}: {val:.4f}" for k, val in logs.items()
                          if not (isinstance(val, float) and math.isnan(val)))
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=True)
        elif self.verbose:
            print(f"{self.label} - {elapsed:.2f}s - {text}", file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _interactive():
    """True in a terminal or a Jupyter kernel; False when writing to a file or pipe."""
    if "ipykernel" in sys.modules:
        return True
    stream = sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())
