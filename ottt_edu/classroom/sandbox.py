"""One bubblewrap sandbox per graded submission: the student's kernel sees only its own notebook.

``grade`` executes each submission with nbgrader, but the *kernel* (the process that runs the
student's code) is started through :func:`main` of this module, which wraps it in bubblewrap
(``bwrap``, Debian/Ubuntu package ``bubblewrap``) with new user, pid, network, IPC, UTS and mount
namespaces. Inside, the kernel sees:

- a scratch copy of the submission's folder (read-write; the grader never reads it back);
- the course's Python environment and the ``ottt_edu`` package, read-only;
- the system's ``/usr`` (and the ``/bin``, ``/lib`` links), a private ``/tmp``, ``/proc`` of its
  own pid namespace, a minimal ``/dev``;
- the kernel's connection file (read-only) and the folder of its ZeroMQ sockets (``ipc``
  transport: the network namespace has no route to the grader's loopback). That folder is a
  small RAM folder of the sandbox's own (:data:`IPC_TMPFS_BYTES`); the grader reaches the sockets
  through ``/proc/<pid>/root`` of the sandbox, by a link the launcher puts where the connection
  file says they are (a folder bound from the grader's disk let a submission fill that disk).

Nothing else: no answer key, no gradebook, no other submission, no ``$HOME``, no network, no
environment variable of the grader's (``--clearenv``). Resource limits (``setrlimit`` before
``exec``, inherited by every process inside): address space, CPU seconds, processes, file size.
The sandbox's pid namespace dies with the kernel, so no process it started outlives grading.
Every capability is dropped (also when the grader is root) and no nested user namespace may be
made, so the read-only binds cannot be remounted read-write.

What remains visible (the threat model in docs/teaching.md): the installed library, whose
reference answers a student could read; nbgrader's test cells arrive one at a time as code to
run, so a submission cannot read the hidden tests of later cells before they run.

Reference: bubblewrap(1); jupyter_client's ``ipc`` transport; nbgrader's FAQ on untrusted
code ("run the autograder in a sandbox").
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional, Sequence

__all__ = ["library_problem", "SANDBOX_UID", "SLOT_UID_BASE", "slot_uid", "TMPFS_BYTES", "SandboxLimits", "find_bwrap", "sandbox_problem", "make_cgroups", "remove_cgroup",
           "bwrap_argv", "kernel_spec", "main"]

PACKAGE_DIR = Path(__file__).resolve().parents[1]   # ottt_edu/
KERNEL_NAME = "ottt-sandbox"
INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: sudo apt install bubblewrap; Fedora: sudo dnf "
                "install bubblewrap) or, for submissions you trust, pass --no-sandbox")


@dataclass(frozen=True)
class SandboxLimits:
    """Caps on one submission's kernel and everything it starts (``setrlimit``).

    ``memory_bytes``: address space per process (the course's heaviest notebook peaks near
    1.5 GB resident; torch maps more address space than it touches, so the cap is generous);
    ``cpu_seconds``: CPU time per process (the slowest graded notebook needs about 60 s);
    ``processes``: processes and threads of the sandbox's user; ``file_bytes``: largest file
    it may write; ``group_memory_bytes``: memory of all its processes together (a ``memory``
    cgroup, when the grader is root), twice the heaviest notebook's peak."""

    memory_bytes: int = 8 * 2**30
    cpu_seconds: int = 900
    processes: int = 512
    file_bytes: int = 512 * 2**20
    group_memory_bytes: int = 3 * 2**30


@lru_cache(maxsize=1)
def find_bwrap() -> Optional[str]:
    """The ``bwrap`` command if it is installed *and* can make the namespaces here (a container
    may forbid user namespaces); ``None`` otherwise."""
    path = shutil.which("bwrap")
    if path is None or not sys.platform.startswith("linux"):
        return None
    try:
        probe = subprocess.run([path, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
                                "--proc", "/proc", "--dev", "/dev", "true"],
                               capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if probe.returncode == 0 else None


@lru_cache(maxsize=None)
def _supports(option: str) -> bool:
    """Whether this bwrap knows ``option`` (``--disable-userns`` came with bubblewrap 0.8)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False
    try:
        helptext = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return option in helptext.stdout + helptext.stderr


def sandbox_problem() -> Optional[str]:
    """Why no sandbox can be made here (one sentence with the fix), or ``None``."""
    if not sys.platform.startswith("linux"):
        return (f"grading runs each submission in a bubblewrap sandbox, which needs Linux; on "
                f"{sys.platform} grade only submissions you trust, with --no-sandbox (or grade on a "
                f"Linux server)")
    if shutil.which("bwrap") is None:
        return f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}"
    if find_bwrap() is None:
        return ("bwrap is installed but cannot create namespaces here (user namespaces disabled, "
                "e.g. kernel.unprivileged_userns_clone=0 or a restricted container): enable them, "
                "or pass --no-sandbox for submissions you trust")
    return None


_IMPORT_PROBE = ("import ottt_edu, ipykernel, torch, os; "
                 "print(os.path.dirname(os.path.realpath(ottt_edu.__file__)))")


def library_problem() -> Optional[str]:
    """Why a sandboxed kernel could not import the course's library as grading sees it (one
    sentence with the fix), or ``None``. Run once before a class is graded: an environment whose
    editable install points at another checkout (a copied repository, a moved folder) fails only
    inside the sandbox, which shows this package's folder alone, and every student would score 0."""
    bwrap = find_bwrap()
    if bwrap is None:
        return sandbox_problem()
    with tempfile.TemporaryDirectory(prefix="ottt-probe-") as tmp:
        work, scratch, connection = Path(tmp) / "work", Path(tmp) / "scratch", Path(tmp) / "c.json"
        work.mkdir()
        scratch.mkdir()
        connection.write_text("{}", encoding="utf-8")
        as_root = hasattr(os, "geteuid") and os.geteuid() == 0
        if as_root:
            os.chmod(tmp, 0o755)
            os.chmod(connection, 0o644)
        argv = bwrap_argv(bwrap, work, scratch, connection, None,
                          [sys.executable, "-c", _IMPORT_PROBE], as_root=as_root)
        try:
            done = subprocess.run(argv, capture_output=True, encoding="utf-8", errors="replace", timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"a test sandbox did not start ({type(e).__name__}: {e})"
    found = done.stdout.strip().splitlines()[-1:] if done.returncode == 0 else []
    if found == [str(PACKAGE_DIR)]:
        return None
    said = (f"finds ottt_edu in {found[0]}" if found else
            f"cannot import it ({' '.join((done.stderr.strip().splitlines() or ['no output'])[-1].split())})")
    return (f"inside the grading sandbox, {sys.executable} {said}, not the package grading runs "
            f"from ({PACKAGE_DIR}): the environment's install points elsewhere (a copied or moved "
            f"checkout?); reinstall it from here (pip install -e {PACKAGE_DIR.parent}) or grade "
            f"with the environment whose ottt_edu this is")


#: the CPU weight of one sandbox (cgroup v1 ``cpu.shares``, v2 ``cpu.weight``): the kernel's
#: defaults, i.e. a whole sandbox weighs as much as one ordinary process beside it
CPU_SHARES, CPU_WEIGHT = 1024, 100


def make_cgroups(limits: "SandboxLimits", name: str = "") -> list[Path]:
    """cgroups that cap a sandbox's processes (``pids``) and its memory all processes together
    (``memory``), and give it one share of the CPU however many processes it starts (``cpu``:
    ``cpu.shares`` / ``cpu.weight`` at the default, so the scheduler weighs the sandbox as one
    task: 300 busy processes in one sandbox no longer leave a classmate graded beside it 1/301
    of the machine), for a grader running as root (root is exempt from ``RLIMIT_NPROC``, and
    ``RLIMIT_AS`` caps one process, not the 512 a submission may start); the launcher joins
    them before starting the sandbox. One set per grading slot (``name``): with ``--jobs`` a
    submission that takes every process, byte or CPU cycle it may have must not take its
    neighbours'.
    Empty when not root or no writable controller exists; cgroup v1 (one folder per
    controller) or v2 (one folder, the controllers the root enables)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return []
    name = name or f"ottt-sandbox-{os.getpid()}"
    wanted = {"pids.max": limits.processes, "memory.limit_in_bytes": limits.group_memory_bytes,
              "memory.max": limits.group_memory_bytes, "cpu.shares": CPU_SHARES,
              "cpu.weight": CPU_WEIGHT}
    v1 = [Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup/memory"), Path("/sys/fs/cgroup/cpu")]
    bases = v1 if any(b.is_dir() for b in v1) else [Path("/sys/fs/cgroup")]
    groups = []
    for base in bases:
        group = base / name
        try:
            group.mkdir(exist_ok=True)
        except OSError:
            continue
        wrote = False
        for setting, value in wanted.items():
            if (group / setting).exists():
                try:
                    (group / setting).write_text(str(value), encoding="utf-8")
                    wrote = True
                except OSError:
                    pass
        if wrote:
            groups.append(group)
        else:
            remove_cgroup(group)
    return groups


def remove_cgroup(group: Optional[Path]) -> None:
    """Remove a cgroup of :func:`make_cgroups` once its processes are gone."""
    if group is None:
        return
    import time
    for _ in range(50):
        try:
            group.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)


def _system_binds() -> list[str]:
    """``/usr`` read-only, and ``/bin``, ``/lib``, ``/lib64``, ``/sbin`` as the host has them
    (symbolic links on merged-/usr systems, folders elsewhere)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        p = Path(top)
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), top]
        elif p.is_dir():
            args += ["--ro-bind", top, top]
    for f in ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts"):
        if Path(f).exists():
            args += ["--ro-bind", f, f]
    return args


def _python_binds() -> list[str]:
    """The interpreter, its environment (a venv and the Python it was made from) and the
    ``ottt_edu`` package (an editable install lives in the repository: only the package folder is
    shown, not the notebooks beside it)."""
    paths = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), PACKAGE_DIR,
             Path(sys.executable).resolve().parent}
    args: list[str] = []
    for p in sorted(paths):
        if not str(p).startswith("/usr"):
            args += ["--ro-bind", str(p), str(p)]
    if Path(sys.prefix) != Path(sys.prefix).resolve():  # a venv reached through a link
        args += ["--ro-bind", str(Path(sys.prefix).resolve()), sys.prefix]
    return args


#: where the sandbox runs when the grader is root: an ordinary uid (``nobody``), so that
#: what only root may do (writing /proc/sys, /proc/sysrq-trigger) stays out of reach
SANDBOX_UID = 65534
#: the uids of the other slots with ``--jobs`` (slot k > 0 runs as ``SLOT_UID_BASE + k``): a uid
#: no account has (above the ranges systemd hands out), so that ``RLIMIT_NPROC``, which counts
#: per uid, caps each sandbox alone and no sandbox shares a uid with another or with a person
SLOT_UID_BASE = 1_900_000_000


def slot_uid(slot: int) -> int:
    """The uid a root grader's sandbox of grading slot ``slot`` runs as."""
    return SANDBOX_UID if slot == 0 else SLOT_UID_BASE + slot
#: RAM-backed folders inside the sandbox: /tmp, and the submission's working folder
TMPFS_BYTES = 256 * 2**20
#: the RAM folder of the kernel's sockets (five sockets take no space; a file written there may
#: take this much)
IPC_TMPFS_BYTES = 2**20
_DROP_TO_NOBODY = ("import os, sys; os.setgroups([]); os.setgid({uid}); os.setuid({uid}); "
                   "os.execv(sys.argv[1], sys.argv[1:])")


def bwrap_argv(bwrap: str, workdir: Path, scratch: Path, connection_file: Path,
               ipc_dir: Optional[Path], command: Sequence[str], as_root: bool = False,
               uid: int = SANDBOX_UID, info_fd: Optional[int] = None) -> list[str]:
    """The ``bwrap`` command line that runs ``command`` with the files of ``scratch`` shown
    (read-only) in a RAM folder at ``workdir``.

    No capability inside (bwrap keeps root's by default: with ``CAP_SYS_ADMIN`` a submission
    could remount the read-only binds read-write and rewrite the launcher, which runs outside),
    no nested user namespace. ``as_root`` (the grader is root): no user namespace, so that the
    sandbox can switch to :data:`SANDBOX_UID` once its mounts are made (in a user namespace of
    root's, uid 0 inside would still be the machine's root); it runs as ``uid``. ``ipc_dir``:
    a RAM folder of the sandbox's own where bwrap can size one (``--size``), else the grader's
    folder bound in; ``info_fd``: bwrap writes the sandbox's pid there (``--info-fd``)."""
    env = {"HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "MPLCONFIGDIR": "/tmp/matplotlib",
           "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONNOUSERSITE": "1", "OTTT_EDU_THREADS": "1", "USER": "student",
           "JPY_PARENT_PID": "1"}  # ipykernel: launched by a client (no banner, no parent poller)
    sized = ["--size", str(TMPFS_BYTES)] if _supports("--size") else []
    perms = ["--perms", "1777"] if _supports("--perms") else []
    if as_root:
        spaces = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                  "--unshare-cgroup-try", "--cap-drop", "ALL", "--cap-add", "CAP_SETUID",
                  "--cap-add", "CAP_SETGID"]
        command = [sys.executable, "-I", "-c", _DROP_TO_NOBODY.format(uid=int(uid)), *command]
    else:
        spaces = ["--unshare-all", "--unshare-user", "--cap-drop", "ALL",
                  *(["--disable-userns"] if _supports("--disable-userns") else [])]
    made = {"/", "/tmp", "/usr", "/proc", "/dev"}

    def parents(target: Path) -> list[str]:
        """Folders bwrap would create 0700 on the way to ``target``, made 0755 first (the
        sandbox's uid must pass through them)."""
        out = []
        for folder in reversed(target.parents):
            if str(folder) not in made and perms:
                made.add(str(folder))
                out += ["--perms", "0755", "--dir", str(folder)]
        return out

    python = _python_binds()
    args = [bwrap, *spaces, "--die-with-parent", "--new-session", "--clearenv",
            *_system_binds(),
            *perms, *sized, "--tmpfs", "/tmp"]          # first: the binds below may lie under /tmp
    for i in range(0, len(python), 3):
        args += [*parents(Path(python[i + 2])), *python[i:i + 3]]
    args += ["--proc", "/proc", "--dev", "/dev", *parents(workdir)]
    if sized:  # the working folder in RAM, capped; the submission's files in it, read-only
        args += [*perms, *sized, "--tmpfs", str(workdir)]
        for item in sorted(scratch.iterdir()):
            args += ["--ro-bind", str(item), str(workdir / item.name)]
    else:      # an old bwrap without --size: the scratch copy itself, read-write, on disk
        args += ["--bind", str(scratch), str(workdir)]
    args += [*parents(connection_file), "--ro-bind", str(connection_file), str(connection_file)]
    if ipc_dir is not None and sized:
        args += [*parents(ipc_dir), *perms, "--size", str(IPC_TMPFS_BYTES), "--tmpfs", str(ipc_dir)]
    elif ipc_dir is not None:  # an old bwrap: the grader's folder, on its disk
        args += [*parents(ipc_dir), "--bind", str(ipc_dir), str(ipc_dir)]
    if info_fd is not None:
        args = [args[0], "--info-fd", str(info_fd), *args[1:]]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return [*args, "--chdir", str(workdir), "--", *command]


def kernel_spec(folder: Path, scratch_root: Path, limits: SandboxLimits,
                cgroups: Sequence[Path] = (), uid: int = SANDBOX_UID) -> str:
    """Write the sandboxed kernel's kernelspec into ``folder/kernels/`` (put ``folder`` on
    ``JUPYTER_PATH``); return its name. ``uid``: what the sandbox runs as when the grader is
    root (one per grading slot, :func:`slot_uid`)."""
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    # Run as a file, isolated (-I): the launcher needs the standard library only, so starting a
    # kernel does not import torch, and nothing from the environment changes what it does.
    argv = [sys.executable, "-I", str(Path(__file__).resolve()), "--scratch-root", str(scratch_root),
            "--memory", str(limits.memory_bytes), "--cpu", str(limits.cpu_seconds),
            "--processes", str(limits.processes), "--file-size", str(limits.file_bytes),
            *[a for g in cgroups for a in ("--cgroup", str(g))], "--uid", str(int(uid)),
            "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({
        # bwrap does not pass signals on: an interrupt (a cell past its time limit) travels as a
        # message on the kernel's control channel instead of SIGINT
        "argv": argv, "display_name": "ottt_edu sandbox", "language": "python",
        "interrupt_mode": "message",
        "metadata": {"debugger": False}}), encoding="utf-8")
    return KERNEL_NAME


def _copy_folder(src: Path, dst: Path) -> None:
    """Regular files and folders only (a link in a submission's folder is not followed)."""
    for item in src.iterdir():
        if item.is_symlink():
            continue
        if item.is_dir():
            (dst / item.name).mkdir()
            _copy_folder(item, dst / item.name)
        elif item.is_file():
            shutil.copyfile(item, dst / item.name)


def _reset_folder(folder: Path) -> None:
    """Empty ``folder`` (links are removed, never followed) and give it mode 700 again."""
    os.chmod(folder, 0o700)
    for item in folder.iterdir():
        if item.is_dir() and not item.is_symlink():
            shutil.rmtree(item, ignore_errors=True)
        else:
            item.unlink(missing_ok=True)


def _limit(limits: SandboxLimits) -> None:
    import resource

    for what, value in ((resource.RLIMIT_AS, limits.memory_bytes),
                        (resource.RLIMIT_CPU, limits.cpu_seconds),
                        (resource.RLIMIT_NPROC, limits.processes),
                        (resource.RLIMIT_FSIZE, limits.file_bytes),
                        (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(what, (value, value))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The kernel launcher of the kernelspec: started by nbgrader (jupyter_client) in the
    submission's folder, it copies that folder to a scratch folder and ``exec``s ``bwrap``."""
    p = argparse.ArgumentParser(prog="ottt_edu/classroom/sandbox.py")
    p.add_argument("--scratch-root", type=Path, required=True)
    p.add_argument("--memory", type=int, default=SandboxLimits.memory_bytes)
    p.add_argument("--cpu", type=int, default=SandboxLimits.cpu_seconds)
    p.add_argument("--processes", type=int, default=SandboxLimits.processes)
    p.add_argument("--file-size", type=int, default=SandboxLimits.file_bytes)
    p.add_argument("--cgroup", type=Path, action="append", default=[])
    p.add_argument("--uid", type=int, default=SANDBOX_UID)
    p.add_argument("-f", dest="connection_file", type=Path, required=True)
    args = p.parse_args(argv)
    bwrap = find_bwrap()
    if bwrap is None:
        print(f"ottt_edu sandbox: {sandbox_problem()}", file=sys.stderr)
        return 3
    workdir = Path.cwd()
    scratch = Path(tempfile.mkdtemp(prefix="submission-", dir=args.scratch_root))
    _copy_folder(workdir, scratch)
    connection = json.loads(args.connection_file.read_text(encoding="utf-8"))
    ipc_dir = Path(connection["ip"]).parent if connection.get("transport") == "ipc" else None
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if ipc_dir is not None and not _supports("--size"):  # reused by the kernels of one worker:
        _reset_folder(ipc_dir)  # what an earlier submission left there must not reach this one
    if as_root:  # what the sandbox's uid must reach: its files, its sockets, its connection file
        for path in [scratch, *scratch.rglob("*")]:
            os.chown(path, args.uid, args.uid, follow_symlinks=False)
        os.chmod(scratch, 0o755)
        if ipc_dir is not None and not _supports("--size"):
            os.chown(ipc_dir, args.uid, args.uid)
        os.chown(args.connection_file, args.uid, args.uid)
    command = [sys.executable, "-m", "ipykernel_launcher", "-f", str(args.connection_file)]
    in_ram = ipc_dir is not None and _supports("--size")
    read_fd, write_fd = os.pipe() if in_ram else (None, None)
    full = bwrap_argv(bwrap, workdir, scratch, args.connection_file.resolve(), ipc_dir, command,
                      as_root=as_root, uid=args.uid, info_fd=write_fd)
    _limit(SandboxLimits(args.memory, args.cpu, args.processes, args.file_size))
    for group in args.cgroup:  # as root: the caps on processes and memory are the cgroups'
        (group / "cgroup.procs").write_text(str(os.getpid()), encoding="utf-8")
    # no descriptor of the grader's reaches the sandbox: jupyter_client starts the launcher with
    # the grader's own stdin, stdout and stderr (a terminal, a log file), which a submission could
    # write into (fake summaries, escape sequences that retitle the teacher's terminal)
    null = os.open(os.devnull, os.O_RDWR)
    if not in_ram:
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.execv(bwrap, full)
    # the launcher stays (bwrap dies with it, --die-with-parent): once bwrap says the sandbox's
    # pid, the grader's socket folder becomes a link into the sandbox's own RAM folder
    child = subprocess.Popen(full, pass_fds=(write_fd,), stdin=null, stdout=null, stderr=null)
    os.close(write_fd)
    pid = _sandbox_pid(read_fd)
    if pid is not None:
        _link_into(ipc_dir, Path(f"/proc/{pid}/root{ipc_dir}"))
    return child.wait()


def _sandbox_pid(fd: int) -> Optional[int]:
    """The ``child-pid`` bwrap writes to its ``--info-fd`` (``None`` if it wrote none)."""
    data = b""
    with os.fdopen(fd, "rb") as stream:
        while not data.rstrip().endswith(b"}"):
            chunk = stream.read1(4096)
            if not chunk:
                break
            data += chunk
    try:
        return int(json.loads(data.decode("utf-8"))["child-pid"])
    except (ValueError, KeyError, TypeError):
        return None


def _link_into(path: Path, target: Path) -> None:
    """Make ``path`` a link to ``target``, replacing whatever is there (a folder or an old link)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    new = path.with_name(f".{path.name}.{os.getpid()}")
    new.unlink(missing_ok=True)
    os.symlink(target, new)
    os.replace(new, path)


if __name__ == "__main__":
    sys.exit(main())
