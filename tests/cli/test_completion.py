"""``skytells completion bash|zsh|fish``: scripts generated from the parser. Bash's is parsed
(``bash -n``) and driven the way bash drives it (``COMP_WORDS``/``COMP_CWORD`` then the
function ``complete -p`` names); where zsh and fish are installed, theirs are syntax-checked
and asked for completions too (fish: ``complete -C``; zsh: the function's ``compadd`` words)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import base_env, run_in_pipe


def _script(shell: str, tmp_path: Path) -> Path:
    done = run_in_pipe(["completion", shell], base_env())
    assert done.code == 0 and done.err == "", done.err
    path = tmp_path / f"skytells.{shell}"
    path.write_text(done.out)
    return path


def _complete(script: Path, *words: str) -> list[str]:
    """What bash offers for ``words`` (the last one is being typed)."""
    array = " ".join(shlex.quote(word) for word in words)
    program = f"""
source {shlex.quote(str(script))}
function=$(complete -p skytells | sed -E 's/.*-F ([^ ]+) .*/\\1/')
COMP_WORDS=({array}); COMP_CWORD={len(words) - 1}
"$function"
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


def test_bash_script_parses_and_completes(tmp_path: Path) -> None:
    script = _script("bash", tmp_path)
    assert subprocess.run(["bash", "-n", str(script)], timeout=30).returncode == 0
    assert _complete(script, "skytells", "pre") == ["predictions"]
    assert _complete(script, "skytells", "--debug", "predictions", "") == [
        "list",
        "get",
        "wait",
        "cancel",
        "delete",
    ]
    assert "--output-dir" in _complete(script, "skytells", "run", "mera", "-i", "p=x", "--out")
    types = _complete(script, "skytells", "models", "list", "--type", "")
    assert {"image", "video", "audio", "music", "text"} <= set(types)
    assert _complete(script, "skytells", "completion", "") == ["bash", "zsh", "fish"]
    assert "--time-scale" in _complete(script, "skytells", "emulator", "--ti")
    # a value that looks like a command is not taken for one
    assert _complete(script, "skytells", "run", "--webhook", "models", "--js") == ["--json"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts(shell: str, tmp_path: Path) -> None:
    script = _script(shell, tmp_path)
    text = script.read_text()
    for word in ("run", "predictions", "models", "emulator", "completion", "output-dir"):
        assert word in text
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed: its script's syntax is not checked here")
    done = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    offers = _offers_fish if shell == "fish" else _offers_zsh
    assert "predictions" in offers(script, "skytells pre")
    actions = {"list", "get", "wait", "cancel", "delete"}
    assert actions <= set(offers(script, "skytells --debug predictions "))
    assert {"image", "video", "text"} <= set(offers(script, "skytells models list --type "))
    assert "--output-dir" in offers(script, "skytells run mera --out")


def _offers_fish(script: Path, line: str) -> list[str]:
    """What fish offers for the command line ``line`` (``complete -C``), names only."""
    program = f"source {shlex.quote(str(script))}; complete -C {shlex.quote(line)}"
    done = subprocess.run(["fish", "-c", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return [row.split("\t", 1)[0] for row in done.stdout.splitlines()]


def _offers_zsh(script: Path, line: str) -> list[str]:
    """The words the zsh function hands to ``compadd`` for ``line`` (zsh filters them by the
    typed prefix itself; here `compadd` prints them, outside a completion widget)."""
    words = line.split(" ")
    array = " ".join(shlex.quote(word) for word in words)
    program = f"""
source {shlex.quote(str(script))}
compadd() {{ [[ $1 == -- ]] && shift; print -l -- "$@"; }}
words=({array}); CURRENT={len(words)}
_skytells
"""
    done = subprocess.run(["zsh", "-c", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()
