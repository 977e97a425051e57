"""Several callers sending one request at the same moment, each on its own connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def at_once(n: int, send: Callable[[], Any]) -> list[Any]:
    """Run `send` in `n` threads released together by a barrier; their results, in no order."""
    barrier = threading.Barrier(n)

    def one() -> Any:
        barrier.wait(timeout=30)
        return send()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return [f.result(timeout=120) for f in [pool.submit(one) for _ in range(n)]]
