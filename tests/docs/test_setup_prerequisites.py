"""scripts/setup checks what it cannot install before anything else, and names everything missing at
once with the command that installs it. Run on a PATH of stand-in tools: only bash and what the
check calls, so the machine's own toolchain does not answer."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

from harness.config import ROOT

BASH = shutil.which("bash")


def tool(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text(f"#!{BASH}\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def machine(tmp_path: Path, *, rustc: str = "rustc 1.94.0 (abc 2026-01-01)", cc: bool = True,
            venv: bool = True, git: bool = True, debian: bool = True) -> dict[str, str]:
    """An environment whose PATH holds only stand-ins for the tools the check looks for."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in ("dirname", "uname"):
        os.symlink(shutil.which(name), folder / name)
    tool(folder, "cargo", "exit 0")
    tool(folder, "rustc", f"echo '{rustc}'")
    if cc:
        tool(folder, "cc", "exit 0")
    python = ('case "$*" in *"import venv"*) exit ' + ("0" if venv else "1") + ';; '
              '*--version*) echo "Python 3.12.1";; *) exit 0;; esac')
    tool(folder, "python3", python)
    if git:
        tool(folder, "git", "exit 0")
    if debian:
        tool(folder, "apt-get", "exit 0")
    return {"PATH": str(folder), "HOME": str(tmp_path)}


def check(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([BASH, str(ROOT / "scripts" / "setup"), "--check"], env=env, capture_output=True,
                          text=True, timeout=30)


def test_a_machine_with_every_prerequisite_passes(tmp_path):
    result = check(machine(tmp_path))
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "setup: every prerequisite is here", "")


def test_everything_missing_is_named_at_once_with_how_to_install_it_on_debian(tmp_path):
    result = check(machine(tmp_path, rustc="rustc 1.80.0 (old 2024-07-21)", cc=False, venv=False, git=False))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "setup: missing, install it and run scripts/setup again:"
    assert lines[1:] == [
        "  - Rust 1.94 or later (this is rustc 1.80.0): rustup update stable",
        "  - a C compiler and linker (cc): sudo apt-get install build-essential",
        "  - Python's venv and ensurepip modules: sudo apt-get install python3-venv",
        "  - git: sudo apt-get install git",
    ]


def test_the_rust_version_wanted_is_the_workspaces(tmp_path):
    wanted = next(line for line in (ROOT / "Cargo.toml").read_text().splitlines() if line.startswith("rust-version"))
    major, minor = wanted.split('"')[1].split(".")[:2]
    just_below = f"rustc {major}.{int(minor) - 1}.9 (x 2026-01-01)"
    assert check(machine(tmp_path, rustc=just_below)).returncode == 1
    at = tmp_path / "at"
    at.mkdir()
    assert check(machine(at, rustc=f"rustc {major}.{minor}.0 (x 2026-01-01)")).returncode == 0


def test_without_apt_get_the_hints_are_general(tmp_path):
    result = check(machine(tmp_path, cc=False, debian=False))
    assert result.returncode == 1
    assert "  - a C compiler and linker (cc): install gcc or clang" in result.stderr.splitlines()
