"""Subprocess tests that run beside the rest of the suite.

A test decorated with :func:`background` runs a command in a child process (the
simulator's own pytest run, the GPU check on the simulator). The child is started
as soon as the session's tests are collected, so it uses the second core while
the main process works through the other tests; the test itself waits for it and
asserts on its output. A deselected test starts nothing.
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

_running = {}  # node id -> (Popen, out_dir, timeout)


def background(make_command, timeout=900):
    """Mark a test: ``make_command(out_dir)`` gives (argv, env, cwd) of the child process,
    which writes any files it makes under *out_dir*; the test takes the ``background``
    fixture for its result."""
    def mark(test):
        test.background_command = (make_command, timeout)
        return test
    return mark


def start(items):
    """Start the child of every selected test marked with :func:`background`."""
    for item in items:
        spec = getattr(getattr(item, "function", None), "background_command", None)
        skipped = any(m.args and m.args[0] is True for m in item.iter_markers("skipif"))
        if spec is None or skipped:
            continue
        make_command, timeout = spec
        out_dir = Path(tempfile.mkdtemp(prefix="numbann-bg-"))
        argv, env, cwd = make_command(out_dir)
        # to files, not pipes: nobody reads a pipe until the test runs, and a full one
        # would stop the child
        with open(out_dir / "stdout", "w") as out, open(out_dir / "stderr", "w") as err:
            proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=err)
        _running[item.nodeid] = (proc, out_dir, timeout)


def stop_all():
    """Kill children whose tests never collected them and remove their files."""
    for proc, out_dir, _ in _running.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(out_dir, ignore_errors=True)
    _running.clear()


class Finished:
    """A finished child: its return code, its stdout and stderr, and the folder it wrote to."""

    def __init__(self, returncode, stdout, stderr, out_dir):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr
        self.out_dir = out_dir

    @property
    def output(self):
        """stdout then stderr, for failure messages."""
        return self.stdout + self.stderr


@pytest.fixture
def background_result(request):
    """Wait for this test's child process and return it as :class:`Finished`."""
    if request.node.nodeid not in _running:
        pytest.fail("the test has no background process (was it marked with background()?)")
    proc, out_dir, timeout = _running[request.node.nodeid]
    try:
        proc.wait(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        timed_out = True
    stdout, stderr = ((out_dir / name).read_text() for name in ("stdout", "stderr"))
    if timed_out:
        pytest.fail(f"background process ran past {timeout} s:\n{stdout}{stderr}")
    return Finished(proc.returncode, stdout, stderr, out_dir)
