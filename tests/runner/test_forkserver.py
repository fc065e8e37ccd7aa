"""Kernels forked from the fork server: fresh, in the right place, killable, gone with the runner."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

from dataops_nb.runner.kernels import KernelPool


def run_code(pool: KernelPool, code: str) -> list[str]:
    async def go() -> list[str]:
        kernel = await pool.acquire()
        out: list[str] = []
        try:
            await kernel.kc.execute_interactive(
                code, timeout=60,
                output_hook=lambda msg: out.append(msg["content"].get("text", "")) if msg["msg_type"] == "stream" else None,
            )
        finally:
            await pool.release(kernel)
        return "".join(out).split()

    return pool.call(go()).result(timeout=120)


def alive(pid: int) -> bool:
    """Running (a zombie that its new parent has not reaped yet is not)."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_forked_kernels_are_fresh_and_start_where_asked(tmp_path):
    (tmp_path / "helper.py").write_text("VALUE = 42\n")
    pool = KernelPool(warm=1, budget=3, warm_code="", cwd=str(tmp_path), context_env="DATAOPS_CONTEXT", fork=True).start()
    try:
        probe = ("import os, random, helper; print(os.getppid(), os.getcwd(), helper.VALUE, random.random(), "
                 "'leak' in globals(), os.environ['DATAOPS_CONTEXT']); leak = 1")
        first, second = run_code(pool, probe), run_code(pool, probe)
        forks = pool.call(_server(pool)).result()
        server = forks.process.pid
        assert os.stat(forks.directory).st_mode & 0o777 == 0o700  # nobody else may reach its socket
    finally:
        pool.close()
    assert first[0] == second[0] == str(server)  # both forked from the server
    assert first[1] == second[1] == str(tmp_path)  # the pool's directory; a local module imports
    assert first[2] == "42"
    assert first[3] != second[3]  # each fork reseeds random
    assert first[4] == second[4] == "False"  # nothing one step defined reaches the next
    assert first[5] != second[5] and first[5].endswith("-context.json")  # a context file per kernel
    assert not alive(server)  # closing the pool stops the server


async def _server(pool: KernelPool):  # the pool's ForkServer
    return await pool._forks


def test_a_forked_kernel_is_killed_like_a_started_one():
    pool = KernelPool(warm=1, budget=2, warm_code="", fork=True).start()

    async def kill_one() -> tuple[int, bool]:
        kernel = await pool.acquire()
        pid = kernel.km.provisioner.pid
        kernel.kill()  # a step past its timeout
        for _ in range(200):
            if not await kernel.km.is_alive():
                break
            await __import__("asyncio").sleep(0.05)
        dead = not await kernel.km.is_alive()
        await pool.release(kernel)
        return pid, dead

    try:
        pid, dead = pool.call(kill_one()).result(timeout=120)
    finally:
        pool.close()
    assert dead and not alive(pid)


def test_without_forks_kernels_are_started_by_the_runner(monkeypatch):
    monkeypatch.setenv("DATAOPS_FORK_KERNELS", "0")
    pool = KernelPool(warm=1, budget=1, warm_code="", fork=True).start()
    try:
        [parent] = run_code(pool, "import os; print(os.getppid())")
    finally:
        pool.close()
    assert parent == str(os.getpid())


RUNNER = textwrap.dedent("""
    import json, sys, time
    from dataops_nb.runner.kernels import KernelPool

    pool = KernelPool(warm=2, budget=2, warm_code="", fork=True).start()

    async def pids():
        kernel = await pool.acquire()
        server = await pool._forks
        return [server.process.pid, kernel.km.provisioner.pid, server.directory]

    print(json.dumps(pool.call(pids()).result(timeout=120)), flush=True)
    time.sleep(600)
""")


def test_the_server_and_its_kernels_go_when_the_runner_is_killed(tmp_path):
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        server, kernel, directory = json.loads(proc.stdout.readline())
        assert alive(server) and alive(kernel)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 30
        while (alive(server) or alive(kernel)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(server), "the fork server outlived its runner"
        assert not alive(kernel), "a forked kernel outlived the fork server"
        assert not os.path.exists(directory)  # the server removed its socket on the way out
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_cancel_while_a_steps_kernel_starts_gives_the_step_no_kernel():
    """A cancel that arrives while a step's kernel is still starting (here: warming) stops the
    step: it gets no kernel, rather than running all its cells after the run was cancelled."""
    from dataops_nb.runner.kernels import KernelStartError

    pool = KernelPool(warm=1, budget=3, warm_code="import time; time.sleep(4)", fork=False).start()
    try:
        step = pool.call(pool.acquire())
        time.sleep(0.5)
        assert not step.done()  # the kernel is still starting
        pool.call(pool.interrupt_all(0.5)).result(timeout=60)
        try:
            kernel = step.result(timeout=90)
        except KernelStartError as exc:
            assert "cancelled" in str(exc)
        else:
            raise AssertionError(f"the step got a kernel after the run was cancelled: {kernel}")
    finally:
        pool.close()
    assert not pool._live  # nothing is left running
