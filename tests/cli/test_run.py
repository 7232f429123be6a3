"""``skytells run``: the result survives a bad --output-dir, --json prints only the prediction,
--no-wait claims no credits, --stream prints text as it comes, inputs from -i, --input-json and
--input-file (the installed command against the emulator, in a pipe and in a terminal)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import SKYTELLS, Runner, base_env


@pytest.mark.parametrize("terminal", [False, True])
@pytest.mark.parametrize("bad", ["a file in the way", "under a file", "read-only", "empty"])
def test_a_bad_output_dir_is_refused_before_the_prediction_is_created(
    skytells: Runner, emu: Any, tmp_path: Path, terminal: bool, bad: str
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    read_only = tmp_path / "read-only"
    read_only.mkdir(mode=0o500)
    folder = {
        "a file in the way": str(blocker),
        "under a file": str(blocker / "sub"),
        "read-only": str(read_only / "sub") if os.geteuid() else str(blocker),
        "empty": "",
    }[bad]
    done = skytells(
        "run",
        "flux-edge",
        "-i",
        "prompt=x",
        "--output-dir",
        folder,
        terminal=terminal,
        cwd=tmp_path,
    )
    assert emu.predictions() == []  # nothing created, nothing paid
    assert "Traceback" not in done.text and blocker.read_text() == "not a folder"
    lines = (done.err or done.out).strip().splitlines()
    assert len(lines) == 1, done.text
    if bad == "empty":
        assert done.code == 2 and lines[0].startswith("skytells run: error: --output-dir")
    else:
        assert done.code == 1 and lines[0].startswith("error: FILE_WRITE_ERROR")
        assert "--output-dir" in lines[0]


def test_run_json_prints_the_prediction_only_and_saves_nothing(
    skytells: Runner, tmp_path: Path
) -> None:
    done = skytells("run", "flux-edge", "-i", "prompt=x", "--json", cwd=tmp_path)
    assert done.code == 0, done.err
    data = json.loads(done.out)
    stored = json.loads(skytells("predictions", "get", data["id"], "--json").out)
    assert set(data) == set(stored) and data["output"] == stored["output"]
    assert list(tmp_path.iterdir()) == []  # no outputs/ folder: nothing downloaded
    saved = skytells(
        "run", "flux-edge", "-i", "prompt=x", "--json", "--output-dir", "got", cwd=tmp_path
    )
    assert saved.code == 0 and "saved" not in json.loads(saved.out)
    assert len(list((tmp_path / "got").iterdir())) == 1 and "saved: " in saved.err


def test_no_wait_says_nothing_about_credits(skytells: Runner, emu: Any, tmp_path: Path) -> None:
    emu.configure(time_scale=1.0)
    for terminal in (False, True):
        done = skytells("run", "mera", "-i", "prompt=x", "--no-wait", terminal=terminal)
        assert done.code == 0 and "status: pending" in done.out
        assert "credits" not in done.text
    finished = skytells("run", "flux-edge", "-i", "prompt=x", "--output-dir", str(tmp_path))
    assert "credits used: 0.003" in finished.out  # known once it finished: 0.003 USD/image


def test_stream_prints_text_as_it_is_produced(emu: Any, tmp_path: Path) -> None:
    emu.configure(time_scale=0.3)
    env = base_env(SKYTELLS_API_KEY=emu.api_key, SKYTELLS_BASE_URL=emu.base_url)
    process = subprocess.Popen(
        [SKYTELLS, "run", "skytells-chat", "-i", "prompt=hi", "-i", "max_tokens=200", "--stream"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        first = os.read(process.stdout.fileno(), 65536)
        (prediction,) = emu.predictions()
        assert first and prediction["status"] == "processing"  # text before the end
        rest, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, err
    final = emu.predictions()[0]
    assert (first + rest).decode() == final["output"] + "\n"  # exactly the text, on stdout
    assert f"id: {final['id']}".encode() in err and list(tmp_path.iterdir()) == []


def test_stream_in_a_terminal(skytells: Runner, emu: Any) -> None:
    done = skytells("run", "skytells-chat", "-i", "prompt=hi", "--stream", terminal=True)
    assert done.code == 0, done.out
    (prediction,) = emu.predictions()
    assert prediction["output"] in done.out and "Traceback" not in done.out


def test_inputs_from_json_a_file_and_stdin_are_merged(skytells: Runner, tmp_path: Path) -> None:
    (tmp_path / "inputs.json").write_text(json.dumps({"output_format": "png"}))
    done = skytells(
        "run",
        "truefusion",
        "-i",
        "prompt=a fox",
        "--input-json",
        '{"num_outputs": 2}',
        "--input-file",
        str(tmp_path / "inputs.json"),
        "--json",
    )
    assert done.code == 0, done.err
    expected = {"prompt": "a fox", "num_outputs": 2, "output_format": "png"}
    assert json.loads(done.out)["input"] == expected
    piped = skytells(
        "run", "truefusion", "--input-file", "-", "--json", stdin=json.dumps({"prompt": "x"})
    )
    assert piped.code == 0 and json.loads(piped.out)["input"] == {"prompt": "x"}


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["-i", "prompt=a", "-i", "prompt=b"], "-i prompt= is given twice"),
        (["-i", "prompt=a", "--input-json", '{"prompt": "b"}'], "'prompt' is given by both"),
        (["--input-json", "{not json"], "--input-json: not valid JSON"),
        (["--input-json", "[1, 2]"], "expected a JSON object"),
        (["--input-file", "/nonexistent/inputs.json"], "cannot read it"),
        (["--stream", "--json"], "choose one"),
        (["--stream", "--no-wait"], "not allowed with argument"),
    ],
)
def test_input_mistakes_are_usage_errors_on_one_line(
    skytells: Runner, emu: Any, argv: list[str], says: str
) -> None:
    done = skytells("run", "truefusion", *argv)
    assert done.code == 2, done.err
    assert len(done.err.strip().splitlines()) == 1 and says in done.err, done.err
    assert done.err.startswith("skytells run: error:") and "Traceback" not in done.err
    assert emu.predictions() == []  # nothing was created
