"""Tests of fer_graph.landmarks._quiet: fd-2 capture that drops MediaPipe's C++ log lines."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from fer_graph.landmarks._quiet import VERBOSE_ENV_VAR, is_noise, quiet_stderr

NOISE = (b"W0000 00:00:1796160230.130585    4626 inference_feedback_manager.cc:121] Feedback manager "
         b"requires a model with a single signature inference. Disabling support for feedback tensors.\n")
XNNPACK = b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"


def _fd2_identity() -> tuple[int, int]:
    st = os.fstat(2)
    return st.st_dev, st.st_ino


@pytest.fixture(autouse=True)
def quiet_by_default(monkeypatch):
    monkeypatch.delenv(VERBOSE_ENV_VAR, raising=False)


def test_noise_patterns():
    assert is_noise(NOISE) and is_noise(XNNPACK)
    assert is_noise(b"WARNING: Logging before InitGoogle() is written to STDERR\n")
    assert is_noise(b"I0000 00:00:1796160230.1 12 gl_context.cc:369] GL version: 3.2\n")
    assert not is_noise(b"E0000 00:00:1796160230.1 12 calculator_graph.cc:887] INTERNAL: failed\n")
    assert not is_noise(b"Traceback (most recent call last):\n")
    assert not is_noise(b"W0000 but not an absl line\n")


def test_captures_fd2_drops_noise_reemits_the_rest_and_restores(capfd):
    before = _fd2_identity()
    with quiet_stderr():
        assert _fd2_identity() != before  # fd 2 points at the capture file inside the block
        os.write(2, NOISE)
        os.write(2, b"a real problem\n")
        os.write(2, XNNPACK)
        assert capfd.readouterr().err == ""  # nothing reached the real stderr yet
    assert _fd2_identity() == before
    assert capfd.readouterr().err == "a real problem\n"
    os.write(2, NOISE)  # after the block fd 2 is the real stderr again: nothing filtered
    assert capfd.readouterr().err == NOISE.decode()


def test_everything_is_reemitted_when_the_block_raises(capfd):
    before = _fd2_identity()
    with pytest.raises(RuntimeError, match="boom"), quiet_stderr():
        os.write(2, NOISE)
        os.write(2, b"context\n")
        raise RuntimeError("boom")
    assert _fd2_identity() == before
    assert capfd.readouterr().err == NOISE.decode() + "context\n"


def test_nested_blocks_share_one_capture(capfd):
    before = _fd2_identity()
    with quiet_stderr():
        inner_fd = None
        with quiet_stderr():
            inner_fd = _fd2_identity()
            os.write(2, b"inner\n" + NOISE)
        assert _fd2_identity() == inner_fd  # the inner exit leaves the outer capture in place
        assert capfd.readouterr().err == ""
        os.write(2, b"outer\n")
    assert _fd2_identity() == before
    assert capfd.readouterr().err == "inner\nouter\n"


def test_verbose_env_var_leaves_stderr_alone(capfd, monkeypatch):
    monkeypatch.setenv(VERBOSE_ENV_VAR, "1")
    before = _fd2_identity()
    with quiet_stderr():
        assert _fd2_identity() == before
        os.write(2, NOISE)
    assert capfd.readouterr().err == NOISE.decode()


_DETECT_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from fer_graph.landmarks.mediapipe_source import FaceLandmarkDetector

    with FaceLandmarkDetector(sys.argv[1]) as det:
        print(det.detect(np.full((48, 48), 128, np.uint8)))
""")


def _run_detector(model_path, verbose: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != VERBOSE_ENV_VAR}
    if verbose:
        env[VERBOSE_ENV_VAR] = "1"
    return subprocess.run([sys.executable, "-c", _DETECT_SCRIPT, str(model_path)], env=env,
                          capture_output=True, text=True, timeout=300, check=True)


@pytest.mark.mediapipe
def test_detector_in_a_fresh_process_prints_no_mediapipe_logs(model_path):
    quiet = _run_detector(model_path, verbose=False)
    assert quiet.stdout.strip() == "no_face"
    assert "inference_feedback_manager" not in quiet.stderr and "XNNPACK" not in quiet.stderr
    assert quiet.stderr == ""
    loud = _run_detector(model_path, verbose=True)  # the same run with the logs asked for shows them
    assert "inference_feedback_manager" in loud.stderr and "XNNPACK" in loud.stderr
