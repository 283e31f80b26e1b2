"""The ``equitools`` command itself: light ``--help``, the help texts, progress bars only on a
terminal, and ``equitools bench`` (listing, pass-through, where the scripts write)."""

from __future__ import annotations

import argparse
import importlib
import io
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from equitools.cli import COMMANDS, main
from equitools.commands import bench
from equitools.commands.progress import show_progress
from equitools.paths import PROJECT_ROOT

HEAVY = ("torch", "lightning", "ase", "matplotlib")

LIGHT_HELP = f"""
import sys
from equitools.cli import COMMANDS, main
for command in ["", *COMMANDS]:
    try:
        main([command, "--help"] if command else ["--help"])
    except SystemExit as exit:
        assert exit.code == 0, (command, exit.code)
    heavy = [name for name in {HEAVY!r} if name in sys.modules]
    assert not heavy, f"equitools {{command}} --help imported {{heavy}}"
"""


def test_help_imports_no_heavy_library():
    done = subprocess.run([sys.executable, "-c", LIGHT_HELP], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr


def test_top_level_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    description = out.split("\n\n")[1]
    assert description.startswith("Equivariant deep learning on atoms") and description.rstrip().endswith(".")
    assert "``" not in out
    for name, help_text in COMMANDS.items():
        assert f"    {name:<10}{help_text.split()[0]}" in out


def command_parsers():
    """``(name, parser)`` of every command and subcommand, built as the CLI builds them."""
    for name in COMMANDS:
        parser = argparse.ArgumentParser(prog=f"equitools {name}")
        importlib.import_module(f"equitools.commands.{name}").add_arguments(parser)
        yield name, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                yield from ((f"{name} {sub}", p) for sub, p in action.choices.items())


PARSERS = dict(command_parsers())


@pytest.mark.parametrize("name", PARSERS)
def test_every_option_states_its_default(name):
    """Every option but the required ones and the on/off flags (off unless given) says its
    default in its help."""
    options = [
        a
        for a in PARSERS[name]._actions
        if a.option_strings and not a.required and not isinstance(a, (argparse._HelpAction, argparse._StoreTrueAction))
    ]
    missing = [a.option_strings[-1] for a in options if "default" not in (a.help or "")]
    assert not missing, f"equitools {name}: options without a default in their help: {missing}"


class Stderr(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    "tty, no_progress, expected",
    [(True, False, True), (True, True, False), (False, False, False), (False, True, False)],
)
def test_progress_bars_only_on_a_terminal(monkeypatch, tty, no_progress, expected):
    monkeypatch.setattr(sys, "stderr", Stderr(tty))
    assert show_progress(argparse.Namespace(no_progress=no_progress)) is expected


@pytest.mark.parametrize(
    "tty, argv, bars", [(True, [], "config"), (True, ["--no-progress"], False), (False, [], False)]
)
def test_train_turns_the_bars_off_unless_on_a_terminal(tmp_path, monkeypatch, tty, argv, bars):
    import equitools.train.run
    from equitools.train import load_config

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"data": {"format": "embedded"}, "output": {"dir": str(tmp_path / "run")}}))
    seen = {}
    monkeypatch.setattr(equitools.train.run, "train", lambda config, resume=None: seen.update(config) or {})
    monkeypatch.setattr(sys, "stderr", Stderr(tty))
    assert main(["train", str(config), *argv]) == 0
    expected = load_config(config)["trainer"]["progress_bar"] if bars == "config" else bars
    assert seen["trainer"]["progress_bar"] == expected


# ------------------------------------------------------------------------------------- bench


def test_bench_without_arguments_lists_and_runs_nothing(monkeypatch, capsys):
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("equitools bench ran a script"))
    assert main(["bench"]) == 0
    out = capsys.readouterr().out
    for name in bench.discover():
        assert f"\n  {name} " in out
    assert "equitools bench NAME" in out and "equitools bench --all" in out


def test_every_suite_states_its_run_time():
    times = {name: bench.describe(script)[1] for name, script in bench.discover().items()}
    assert {"accuracy", "data", "ict", "models", "tp"} <= set(times)
    assert all("min" in t and "--quick" in t for t in times.values()), times


@pytest.mark.parametrize(
    "argv, names, passed",
    [
        (["ict", "tp", "--quick"], ["ict", "tp"], ["--quick"]),
        (["--all", "--save"], None, ["--save"]),
    ],
)
def test_bench_runs_the_named_suites_with_the_flags(monkeypatch, capsys, argv, names, passed):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **k: calls.append(cmd) or subprocess.CompletedProcess(cmd, 0))
    assert main(["bench", *argv]) == 0
    scripts = bench.discover()
    assert calls == [[sys.executable, str(scripts[n]), *passed] for n in names or scripts]


def test_bench_rejects_names_with_all(capsys):
    assert main(["bench", "ict", "--all"]) == 2
    assert "not both" in capsys.readouterr().err


@pytest.fixture
def outputs(monkeypatch, tmp_path):
    """``benchmarks/outputs.py`` with its results folder in ``tmp_path``."""
    monkeypatch.syspath_prepend(str(PROJECT_ROOT / "benchmarks"))
    module = importlib.import_module("outputs")
    monkeypatch.setattr(module, "RESULTS", tmp_path)
    return module


@pytest.mark.parametrize("argv, where", [([], "runs"), (["--save"], "tracked"), (["--out", "x.json"], "x.json")])
def test_bench_scripts_write_a_new_file_unless_told(outputs, tmp_path, argv, where):
    parser = argparse.ArgumentParser()
    outputs.add_output_options(parser, "bench_x", "--output", "--out")
    path = outputs.output_path(parser.parse_args(argv), "bench_x")
    if where == "runs":
        assert path.parent == tmp_path / "runs" and path.name.startswith("bench_x-") and path.parent.is_dir()
    elif where == "tracked":
        assert path == tmp_path / "bench_x.json"
    else:
        assert path == Path("x.json")
