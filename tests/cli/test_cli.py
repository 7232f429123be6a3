"""The `skytells` command line, driven in-process against the emulator."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from skytells.cli import main
from skytells.cli._inputs import parse_inputs
from tests.conftest import checks_after_create


@pytest.fixture
def cli(emu: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("SKYTELLS_API_KEY", emu.api_key)
    monkeypatch.setenv("SKYTELLS_BASE_URL", emu.base_url)

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_run_saves_outputs_and_prints_paths(cli: Any, tmp_path: Path) -> None:
    code, out, _ = cli(
        "run",
        "truefusion",
        "-i",
        "prompt=a red fox",
        "-i",
        "num_outputs=2",
        "-i",
        "output_format=png",
        "--output-dir",
        str(tmp_path),
    )
    assert code == 0
    saved = [line.split("saved: ", 1)[1].strip() for line in out.splitlines() if "saved: " in line]
    assert len(saved) == 2
    for path in saved:
        with Image.open(path) as image:
            assert image.format == "PNG"
    assert "succeeded" in out


def test_run_json_for_scripts(cli: Any, tmp_path: Path) -> None:
    code, out, err = cli(
        "run",
        "skytells-chat",
        "-i",
        "prompt=hi",
        "-i",
        "max_tokens=20",
        "--json",
        "--output-dir",
        str(tmp_path),
    )
    assert code == 0
    data = json.loads(out)
    assert data["status"] == "succeeded" and data["input"] == {"prompt": "hi", "max_tokens": 20}
    assert "saved" not in data  # the prediction's JSON only; the saved paths go to stderr
    (saved,) = [line.split("saved: ", 1)[1] for line in err.splitlines() if "saved: " in line]
    assert Path(saved).read_text() == data["output"]


def test_run_no_wait(cli: Any, emu: Any) -> None:
    emu.configure(time_scale=1.0)
    code, out, _ = cli("run", "mera", "-i", "prompt=x", "--no-wait", "--json")
    assert code == 0 and json.loads(out)["status"] == "pending"


def test_inputs_are_converted_by_the_schema() -> None:
    schema = {
        "properties": {
            "n": {"type": "integer"},
            "g": {"type": "number"},
            "flag": {"type": "boolean"},
            "tags": {"type": "array"},
            "seconds": {"type": "string"},
            "opt": {"type": ["integer", "null"]},
        }
    }
    assert parse_inputs(
        ["n=2", "g=3.5", "flag=true", "tags=a,b", "seconds=8", "opt=null", "free=[1, 2]"], schema
    ) == {
        "n": 2,
        "g": 3.5,
        "flag": True,
        "tags": ["a", "b"],
        "seconds": "8",
        "opt": None,
        "free": [1, 2],
    }


@pytest.mark.parametrize(
    ("argv", "error_id"),
    [
        (["run", "no-such-model", "-i", "prompt=x"], "MODEL_NOT_FOUND"),
        (["run", "truefusion", "-i", "num_outputs=two"], "INVALID_INPUT"),
        (["run", "truefusion", "-i", "num_outputs=9"], "INVALID_INPUT"),
        (["predictions", "get", "does-not-exist"], "PREDICTION_FAILED"),
        (["models", "get", "nope"], "MODEL_NOT_FOUND"),
    ],
)
def test_errors_are_one_clear_line(cli: Any, argv: list[str], error_id: str) -> None:
    code, out, err = cli(*argv)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {error_id}:")
    assert "--" in lines[0]  # what to do
    assert "Traceback" not in err + out


def test_failed_prediction_names_its_id(cli: Any, emu: Any) -> None:
    emu.fail_next(count=1, message="NSFW content detected.")
    code, _, err = cli("run", "truefusion", "-i", "prompt=x")
    assert code == 3 and "NSFW content detected." in err and "[prediction " in err


def test_bad_key_says_what_to_do(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYTELLS_API_KEY", "sk-wrong")
    code, _, err = cli("models", "list")
    assert code == 1 and err.startswith("error: UNAUTHORIZED") and "SKYTELLS_API_KEY" in err


def test_debug_shows_the_traceback(cli: Any) -> None:
    code, _, err = cli("--debug", "models", "get", "nope")
    assert code == 1
    assert "Traceback (most recent call last)" in err and "NotFoundError" in err


def test_predictions_commands(cli: Any, emu: Any) -> None:
    code, out, _ = cli(
        "run", "flux-edge", "-i", "prompt=x", "--json", "--output-dir", "/tmp/skytells-cli-test"
    )
    prediction_id = json.loads(out)["id"]
    code, out, err = cli("predictions", "list")
    assert code == 0 and prediction_id in out and "page 1 of 1" in err
    code, out, _ = cli("predictions", "get", prediction_id)
    assert code == 0 and "succeeded" in out
    code, out, _ = cli("predictions", "wait", prediction_id, "--json")
    assert json.loads(out)["status"] == "succeeded"
    code, out, _ = cli("predictions", "delete", prediction_id)
    assert code == 0 and f"deleted {prediction_id}" in out
    emu.configure(time_scale=1.0)
    _, out, _ = cli("run", "mera", "-i", "prompt=x", "--no-wait", "--json")
    code, out, _ = cli("predictions", "cancel", json.loads(out)["id"], "--json")
    assert json.loads(out)["status"] == "cancelled"


def test_models_commands(cli: Any) -> None:
    code, out, _ = cli("models", "list", "--type", "video")
    assert code == 0 and "mera" in out and "truefusion" not in out
    code, out, _ = cli("models", "get", "truefusion-pro", "--schema")
    assert code == 0 and "aspect_ratio" in out and "num_outputs" in out and "integer" in out


def test_global_emulator_option(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("SKYTELLS_API_KEY", raising=False)
    monkeypatch.setenv("SKYTELLS_EMULATOR_TIME_SCALE", "0")
    code = main(
        ["--emulator", "run", "truefusion", "-i", "prompt=a red fox", "--output-dir", str(tmp_path)]
    )
    assert code == 0
    assert len(list(tmp_path.iterdir())) == 1


def test_skytells_emulator_command_serves_until_ctrl_c() -> None:
    import signal
    import subprocess
    import sys

    import httpx

    command = [sys.executable, "-c", "from skytells.cli import main; raise SystemExit(main())"]
    process = subprocess.Popen(
        [*command, "emulator", "--port", "0", "--time-scale", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        key_line = process.stdout.readline()
        base_url = first.rsplit(" ", 1)[-1].strip()
        key = key_line.split(":", 1)[1].strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        response = httpx.get(f"{base_url}/models", headers={"x-api-key": key})
        assert response.status_code == 200 and response.json()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        process.kill()


def test_ctrl_c_during_run_prints_the_prediction_id(emu: Any, poll: Callable[..., Any]) -> None:
    import os
    import signal
    import subprocess
    import sys

    emu.configure(time_scale=1.0)  # mera runs for about a minute
    env = {**os.environ, "SKYTELLS_API_KEY": emu.api_key, "SKYTELLS_BASE_URL": emu.base_url}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from skytells.cli import main; raise SystemExit(main())",
            "run",
            "mera",
            "-i",
            "prompt=x",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        (prediction,) = poll(emu.predictions, lambda predictions: len(predictions) == 1, 20)
        poll(emu.state, lambda state: checks_after_create(state) >= 1)  # following it now
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 130
    assert f"skytells predictions get {prediction['id']}" in err
    assert "Traceback" not in out + err


def test_a_warning_is_one_line_of_the_command() -> None:
    from tests.cli.conftest import base_env, run_in_pipe

    done = run_in_pipe(["--emulator", "models", "list"], base_env(SKYTELLS_LOG="verbose"))
    assert done.code == 0 and "truefusion" in done.out, done.err
    warned = [line for line in done.err.splitlines() if "SKYTELLS_LOG" in line]
    assert len(warned) == 1 and warned[0].startswith("skytells: warning: SKYTELLS_LOG='verbose'")
    assert "contextlib" not in done.err and ".py:" not in done.err
