"""A dependency-free progress bar on stderr for long CLI work."""
from __future__ import annotations

import sys
import time


class Progress:
    """Call with ``(done, total)``; redraws at most every ``interval`` seconds.

    On a terminal the bar redraws in place; otherwise (logs, CI) one line is
    written per 10 % so the log stays short. ``enabled=False`` makes it silent.
    """

    def __init__(self, label: str, *, enabled: bool = True, stream=None, interval: float = 0.1):
        self.label = label
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0
        self._decile = -1
        self._drawn = False
        self.start = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        frac = min(max(done / total, 0.0), 1.0)
        now = time.perf_counter()
        if self.tty:
            if now - self._last < self.interval and frac < 1.0:
                return
            self._last = now
            bar = "#" * int(frac * 30)
            self.stream.write(f"\r{self.label} [{bar:<30}] {frac:4.0%} {now - self.start:5.1f}s")
            self.stream.flush()
            self._drawn = True
        else:
            decile = int(frac * 10)
            if decile > self._decile:
                self._decile = decile
                self.stream.write(f"{self.label}: {frac:.0%} ({now - self.start:.1f}s)\n")
                self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
