"""`--port` outside 1-65535 is refused before anything starts or is printed (issue 8, item 12)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tiered.cli import main


@pytest.mark.parametrize("command", ["serve", "emulator"])
@pytest.mark.parametrize("port", ["99999", "-1", "0", "http"])
def test_a_bad_port_is_a_usage_error(command: str, port: str) -> None:
    result = CliRunner().invoke(main, [command, "--port", port])
    assert result.exit_code == 2
    assert "Invalid value for '--port'" in result.output
    assert "http://" not in result.output and "listening" not in result.output.lower()
