"""The koop command."""

import subprocess
import sys

from koop.cli import main


def test_help_lists_subcommands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for name in ("demo", "analyze", "compare", "benchmark"):
        assert name in out


def test_console_script_version():
    out = subprocess.run([sys.executable, "-m", "koop.cli", "--version"], capture_output=True,
                         text=True)
    assert out.returncode == 0 and "koop" in out.stdout
