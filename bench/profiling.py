"""A sampling profile of a running server process while a benchmark drives it, with py-spy
(``pip install py-spy``): it attaches by pid, so the server runs exactly as it does unprofiled.

    recorder = start_recording(pid, Path("fanout.raw"))
    ... drive the server ...
    stop_recording(recorder)
    print(summary(Path("fanout.raw")))

The summary names where the server's CPU went: per function, the share of samples in which it
was on the stack (inclusive, the project's own functions) and at the top of it (own time).
Idle samples (the event loop waiting) are not recorded, so shares are of busy time.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<function>.+?) \((?P<file>[^:()]+)(?::\d+)?\)$")
OWN_PACKAGE = "coordinator/"


def start_recording(pid: int, out: Path, rate: int = 200) -> subprocess.Popen:
    spy = shutil.which("py-spy") or str(Path(__import__("sys").executable).with_name("py-spy"))
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw",
                             "--output", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_recording(recorder: subprocess.Popen) -> None:
    recorder.send_signal(signal.SIGINT)  # py-spy writes its output on the way out
    try:
        recorder.wait(30)
    except subprocess.TimeoutExpired:
        recorder.kill()
        recorder.wait()


def _frames(stack: str) -> list[tuple[str, str]]:
    frames = []
    for frame in stack.split(";"):
        match = FRAME.match(frame.strip())
        if match:
            file = match["file"]
            frames.append((match["function"], file[file.find(OWN_PACKAGE):] if OWN_PACKAGE in file else file))
    return frames


def summary(raw: Path, top: int = 15) -> str:
    """The top entries: the project's functions by inclusive share, then all by own share."""
    inclusive: Counter[tuple[str, str]] = Counter()
    own: Counter[tuple[str, str]] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples, frames = int(count), _frames(stack)
        total += samples
        for frame in set(frames):
            if frame[1].startswith(OWN_PACKAGE):
                inclusive[frame] += samples
        if frames:
            own[frames[-1]] += samples
    if not total:
        return "profile: no samples"

    def lines(counter: Counter) -> list[str]:
        return [f"  {100 * n / total:5.1f}%  {function} ({file})" for (function, file), n in counter.most_common(top)]

    return "\n".join([f"profile: {total} busy samples", "inclusive (project functions):", *lines(inclusive),
                      "own time:", *lines(own)])


if __name__ == "__main__":
    import sys

    print(summary(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 15))
