"""Run widget code in a real kernel, started in the project folder."""

from __future__ import annotations

import textwrap

import pytest


class KernelSession:
    def __init__(self, cwd) -> None:
        from jupyter_client.manager import start_new_kernel

        self.km, self.kc = start_new_kernel(kernel_name="python3", cwd=str(cwd))

    def run(self, code: str) -> str:
        """Execute code; return what it printed; raise with the kernel's error."""
        out: list[str] = []

        def hook(msg) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("\n".join(msg["content"]["traceback"]))

        reply = self.kc.execute_interactive(textwrap.dedent(code), output_hook=hook, timeout=120)
        assert reply["content"]["status"] == "ok", "".join(out)
        return "".join(out)

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture
def kernel_in():
    sessions = []

    def start(cwd) -> KernelSession:
        session = KernelSession(cwd)
        sessions.append(session)
        return session

    yield start
    for session in sessions:
        session.close()
