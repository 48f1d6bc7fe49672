"""A sampling profile of a running server process while a benchmark drives it, with py-spy
(``pip install py-spy``): it attaches by pid, so the server runs exactly as it does unprofiled.

    recorder = start_recording(pid, Path("fanout.raw"))
    ... drive the server ...
    stop_recording(recorder)
    print(summary(Path("fanout.raw")))

The summary names where the event loop's busy time went: by area (the library at the top of
the stack), per function of the project (inclusive: on the stack), and per function (own: at
the top). Shares are of busy samples: samples of the loop waiting, or of a database call
waiting for SQLite's thread, are counted apart.
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


# Where the event loop's time goes, by the library on the stack (the first that matches).
AREAS = [("database (SQLAlchemy, aiosqlite, asyncpg)", ("sqlalchemy/", "aiosqlite/", "asyncpg/")),
         ("templates (Jinja)", ("jinja2/", "markupsafe/", "templates/")),
         ("websocket frames (uvicorn, websockets)", ("websockets/", "uvicorn/protocols/websockets")),
         ("HTTP and middleware (uvicorn, Litestar)", ("litestar/", "uvicorn/", "httptools")),
         ("the project's own code", (OWN_PACKAGE,))]
DATABASE_THREAD = "_connection_worker_thread"  # aiosqlite runs SQLite on a thread of its own
SKIPPED = ("coordinator/cli.py",)  # the process's entry: on every stack, says nothing
# Top frames that are not work: the loop waiting (or in uvloop's C code, which has no frames), and
# a database call's greenlet suspended until SQLite's thread answers.
WAITING = {"Runner.run", "Connection._execute"}


def summary(raw: Path, top: int = 15) -> str:
    """The event loop's busy samples by area, the project's functions by inclusive share, and all
    functions by own share; plus how busy SQLite's own thread was executing statements."""
    inclusive: Counter[tuple[str, str]] = Counter()
    own: Counter[tuple[str, str]] = Counter()
    areas: Counter[str] = Counter()
    loop = executing = waiting = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples, frames = int(count), _frames(stack)
        if any(function == DATABASE_THREAD for function, _ in frames):
            executing += samples if any(f == "Connection._execute" for f, _ in frames[-2:]) else 0
            continue
        if not frames:
            continue
        if frames[-1][0] in WAITING:
            waiting += samples
            continue
        loop += samples
        for frame in set(frames):
            if frame[1].startswith(OWN_PACKAGE) and frame[1] not in SKIPPED:
                inclusive[frame] += samples
        own[frames[-1]] += samples
        areas[next((name for name, marks in AREAS if any(m in frames[-1][1] for m in marks)), "other")] += samples
    if not loop:
        return "profile: no samples"

    def lines(counter: Counter) -> list[str]:
        return [f"  {100 * n / loop:5.1f}%  {name if isinstance(name, str) else f'{name[0]} ({name[1]})'}"
                for name, n in counter.most_common(top)]

    return "\n".join([f"profile: {loop} busy samples of the event loop ({waiting} more waiting in the loop or on "
                      f"the database); SQLite's thread executing statements in {executing}", "own time by area:", *lines(areas),
                      "inclusive (the project's functions; database calls run in greenlets and are not under them):",
                      *lines(inclusive), "own time:", *lines(own)])


if __name__ == "__main__":
    import sys

    print(summary(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 15))
