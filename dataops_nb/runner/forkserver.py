"""Kernels forked from a process that imported ipykernel once.

A kernel start costs about a second of CPU, most of it importing IPython and
jupyter_client. One server process (`python -m dataops_nb.runner.forkserver SOCKET`)
pays that once per run; every step's kernel is then a fork of it that has imported
ipykernel but run nothing, so each step still gets a fresh kernel of its own.

The server imports no library that starts threads (forking those is unsafe); the heavy
libraries a step uses are warmed in each forked kernel, as in a started one. The server
exits when the runner does; its kernels watch it as a started kernel watches its parent.
jupyter_client drives a forked kernel through `ForkProvisioner`, with the same signals,
kills and shutdowns as a started one.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from jupyter_client.provisioning import LocalProvisioner

READY_TIMEOUT_S = 60
NATIVE = {"python", f"python{sys.version_info[0]}", f"python{sys.version_info[0]}.{sys.version_info[1]}"}


def forkable(argv: list[str]) -> bool:
    """Whether a kernel spec's command is this Python's own ipykernel (what the server forks)."""
    if len(argv) < 3 or argv[1:3] != ["-m", "ipykernel_launcher"]:
        return False
    return argv[0] in NATIVE or os.path.realpath(argv[0]) == os.path.realpath(sys.executable)


class ForkServer:
    """The runner's handle on the server: start it, fork kernels from it, stop it."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        # a socket in a directory only this user may enter: whoever connects runs code as us
        self.directory = tempfile.mkdtemp(prefix=f"dataops-forks-{os.getpid()}-")
        self.path = str(Path(self.directory) / "server.sock")
        # its own session: Ctrl-C in the terminal reaches the runner, which stops the kernels.
        # `env` is what every forked kernel's /proc/PID/environ shows: no secret belongs in it.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dataops_nb.runner.forkserver", self.path],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
            env=env,
        )
        self._ready: bool | None = None

    def ready(self) -> bool:
        """Wait until the server listens (False: it could not start; kernels start as usual)."""
        if self._ready is None:
            stdout = self.process.stdout
            assert stdout is not None
            found, _, _ = select.select([stdout], [], [], READY_TIMEOUT_S)
            self._ready = bool(found) and stdout.readline().strip() == b"ready"
            if not self._ready:
                self.close()
        return self._ready

    def spawn(self, argv: list[str], env: dict[str, str], cwd: str) -> int:
        """Fork a kernel that runs `argv` (ipykernel_launcher's arguments) in `cwd`; its pid."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(self.path)
            conn.sendall(json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode() + b"\n")
            reply = json.loads(_read_line(conn) or b"{}")
        if "pid" not in reply:
            raise OSError(f"the kernel fork server did not fork: {reply.get('error', 'no reply')}")
        return int(reply["pid"])

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.process.stdout is not None:
            self.process.stdout.close()
        shutil.rmtree(self.directory, ignore_errors=True)


class ForkedProcess:
    """What jupyter_client expects of a kernel's Popen, for a kernel the server forked (and reaps)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = 0  # its exit status went to the server
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.01)
        return self.returncode or 0

    def send_signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkProvisioner(LocalProvisioner):  # type: ignore[misc]
    """LocalProvisioner, except that the kernel process comes from the fork server."""

    server: ForkServer | None = None

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        import asyncio

        assert self.server is not None
        env = {str(k): str(v) for k, v in (kwargs.get("env") or os.environ).items()}
        cwd = str(kwargs.get("cwd") or os.getcwd())
        pid = await asyncio.to_thread(self.server.spawn, list(cmd[3:]), env, cwd)
        self.process = ForkedProcess(pid)
        self.pid = self.pgid = pid  # the kernel leads a session of its own, as a started one does
        return self.connection_info


# --- the server -------------------------------------------------------------------------


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _reap(signum: int, frame: Any) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _kernel(request: dict[str, Any]) -> None:
    """In the forked child: become the kernel a started `python -m ipykernel_launcher` would be."""
    for signum in (signal.SIGCHLD, signal.SIGTERM):  # the server's handlers are not the kernel's
        signal.signal(signum, signal.SIG_DFL)
    os.setsid()
    os.chdir(request["cwd"])
    env = dict(request["env"])
    env["JPY_PARENT_PID"] = str(os.getppid())
    os.environ.clear()
    os.environ.update(env)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    import ipykernel_launcher
    from ipykernel import kernelapp

    # it exits with the server, as a started kernel exits with its parent (the trait's default
    # was read from the environment when the server imported ipykernel)
    sys.argv = [ipykernel_launcher.__file__, *request["argv"], f"--IPKernelApp.parent_handle={os.getppid()}"]
    kernelapp.launch_new_instance()


def serve(path: str) -> None:
    if sys.path and Path(sys.path[0] or ".").resolve() == Path.cwd():
        del sys.path[0]  # as ipykernel_launcher does; each kernel's shell adds its own
    from ipykernel import ipkernel, kernelapp  # noqa: F401  (the second a kernel start costs)

    runner = os.getppid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    signal.signal(signal.SIGCHLD, _reap)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    try:
        while os.getppid() == runner:  # the runner is gone: so is the server
            found, _, _ = select.select([listener], [], [], 1.0)
            if found:
                _fork_one(listener)
    finally:  # a runner killed outright cannot remove the socket's directory
        shutil.rmtree(Path(path).parent, ignore_errors=True)


def _fork_one(listener: socket.socket) -> None:
    conn, _ = listener.accept()
    with conn:
        try:
            request = json.loads(_read_line(conn))
            pid = os.fork()
        except Exception as exc:  # a bad request, or no memory to fork: the runner starts one
            conn.sendall(json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode() + b"\n")
            return
        if pid == 0:
            try:
                listener.close()
                conn.close()
                _kernel(request)
            finally:
                os._exit(0)
        conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")


if __name__ == "__main__":
    serve(sys.argv[1])
