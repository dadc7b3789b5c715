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


def test_bad_top_level_option_is_one_line(capsys):
    import pytest

    with pytest.raises(SystemExit) as exc:
        main(["--frobnicate"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "frobnicate" in err[0]
    with pytest.raises(SystemExit):
        main(["nosuchcommand"])
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
