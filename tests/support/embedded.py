"""`linli run` as a subprocess, the way an operator starts (and stops) the embedded mode."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from tests.support.http import call, free_port
from tests.support.waiting import wait_for

# What would point the launcher at real servers or another data folder or key.
_FOREIGN = ("LINLI_BROKER_URL", "LINLI_DATA_DIR", "LINLI_JWT_SECRET")


def embedded_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL") and k not in _FOREIGN}
    env["LINLI_LOG_FORMAT"] = "json"
    return env


class EmbeddedProcess:
    """One `linli run` on a data folder; start it again on the same folder to test a restart."""

    def __init__(self, data_dir: Path, *, demo: bool = False, extra_env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.demo = demo
        self.env = {**embedded_env(), **(extra_env or {})}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.token = ""

    def start(self, timeout: float = 90.0) -> EmbeddedProcess:
        args = [sys.executable, "-m", "linli.cli", "run", "--port", str(self.port), "--data-dir", str(self.data_dir)]
        if not self.demo:
            args.append("--no-demo")
        self.lines = []
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env=self.env)
        proc = self.proc
        threading.Thread(target=lambda: self.lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()
        line = wait_for(lambda: next((ln for ln in self.lines if ln.startswith("LINLI_TOKEN=")), None)
                        or proc.poll() is not None and f"exited {proc.returncode}",
                        timeout=timeout, message="the printed operator token")
        assert line.startswith("LINLI_TOKEN="), f"linli run {line}"
        self.token = line.strip().split("=", 1)[1]
        wait_for(lambda: call("GET", f"{self.base}/healthz")[0] == 200, message="the server")
        return self

    def stop(self, *, kill: bool = False, timeout: float = 60.0) -> int:
        assert self.proc is not None
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        return self.proc.wait(timeout=timeout)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return call(method, f"{self.base}{path}", self.token, body)

    def count(self, path: str) -> int:
        """How many items a list answers, following its cursors."""
        total, cursor = 0, None
        while True:
            sep = "&" if "?" in path else "?"
            status, page = self.call("GET", f"{path}{sep}limit=200" + (f"&cursor={cursor}" if cursor else ""))
            assert status == 200, page
            total += len(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                return total
