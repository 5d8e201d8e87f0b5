"""A byte ring with absolute offsets: the scrollback every attached screen reads from (pure)."""

from __future__ import annotations


class Ring:
    """Keeps the last `capacity` bytes written; readers address bytes by absolute offset."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._buf = bytearray()
        self._start = 0  # absolute offset of _buf[0]

    @property
    def head(self) -> int:
        """Absolute offset one past the newest byte."""
        return self._start + len(self._buf)

    @property
    def tail(self) -> int:
        """Absolute offset of the oldest byte still kept."""
        return self._start

    def write(self, data: bytes) -> None:
        self._buf += data
        excess = len(self._buf) - self.capacity
        if excess > 0:
            # Trim in big steps so a flood does not memmove the buffer on every small write.
            cut = max(excess, self.capacity // 8)
            cut = min(cut, len(self._buf))
            del self._buf[:cut]
            self._start += cut

    def read(self, offset: int, limit: int) -> tuple[int, bytes]:
        """Bytes from `offset` (moved up to the tail if they were overwritten), at most `limit`."""
        offset = max(offset, self._start)
        begin = offset - self._start
        return offset, bytes(self._buf[begin : begin + limit])

    def clear(self) -> None:
        self._start = self.head
        self._buf = bytearray()
