"""The documentation is true: the README's Python examples run as written, the commands it shows
have the options it uses, and docs/config.md is the rendering of the schemas the code checks."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
import torch
import yaml

from equitools.cli import COMMANDS, main
from equitools.models import registry
from equitools.train import ConfigError, config, resolve_config
from equitools.train.config_reference import COMMAND, render

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLES = re.findall(r"^```python\n(.*?)^```", README, flags=re.DOTALL | re.MULTILINE)


def test_config_reference_is_current():
    assert (ROOT / "docs" / "config.md").read_text(encoding="utf-8") == render(), (
        f"docs/config.md is out of date: run {COMMAND}"
    )


def _assert_documented(docs: dict, keys, numbers: dict, where: str) -> None:
    assert list(docs) == list(keys), f"{where}: documented keys {list(docs)} != schema keys {list(keys)}"
    for key, (kind, _unit, meaning) in docs.items():
        assert meaning, f"{where}.{key} has no meaning"
        assert bool(kind) != (key in numbers), f"{where}.{key}: a type is given by NUMBERS or by DOCS, exactly once"


def test_every_key_has_a_type_and_a_meaning():
    assert list(config.DOCS) == list(config.SCHEMA)
    for section, docs in config.DOCS.items():
        _assert_documented(docs, config.SCHEMA[section], config.NUMBERS.get(section, {}), section)
    assert list(registry.DOCS) == ["common", *registry.MODELS]
    _assert_documented(registry.DOCS["common"], ["model", *registry.COMMON_DEFAULTS], registry.NUMBERS, "model")
    for name in registry.MODELS:
        _assert_documented(registry.DOCS[name], registry.MODEL_DEFAULTS[name], registry.NUMBERS, f"model.{name}")


CHOICES = [
    ("data", "format", {"molecule": "aspirin"}),
    ("training", "reference_energies", {}),
    ("trainer", "progress_bar", {}),
    ("model", "node_interaction", {"model": "escn"}),
]


@pytest.mark.parametrize("section, key, context", CHOICES, ids=[f"{s}.{k}" for s, k, _ in CHOICES])
def test_documented_choices_are_exactly_those_accepted(section, key, context):
    docs = registry.DOCS[context["model"]] if section == "model" else config.DOCS[section]
    choices = [yaml.safe_load(c) for c in re.split(r", | or ", docs[key][0])]
    assert len(choices) >= 2
    if section == "model":
        assert sorted(choices) == sorted(registry.CHOICES[key])
    for value in choices:
        assert resolve_config({section: {**context, key: value}})[section][key] == value
    for value in ("bogus", 1, None):
        with pytest.raises(ConfigError, match=rf"^x\.yaml: {section}\.{key} must be .*, got {value!r}$"):
            resolve_config({section: {**context, key: value}}, source="x.yaml")


def test_progress_bar_defaults_to_auto():
    assert resolve_config({})["trainer"]["progress_bar"] == "auto"


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A fresh working folder and cache, and one torch thread (tiny examples: more threads only
    contend on a shared machine); torch's thread count restored afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EQUITOOLS_CACHE", str(tmp_path / "cache"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tmp_path
    torch.set_num_threads(threads)


def test_the_readme_has_examples():
    assert len(EXAMPLES) >= 7


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example{i + 1}" for i in range(len(EXAMPLES))])
def test_readme_example_runs(code, sandbox):
    exec(compile(code, "README.md example", "exec"), {"__name__": "__readme__"})  # noqa: S102 (the point)


def _commands() -> list[tuple[str, list[str]]]:
    """``(name, options)`` of every ``equitools NAME ...`` command in the README's code."""
    code = "\n".join(re.findall(r"```[^\n]*\n(.*?)```", README, flags=re.DOTALL) + re.findall(r"`([^`\n]+)`", README))
    found = []
    for name, rest in re.findall(r"\bequitools ([a-z]+)([^\n`&]*)", code):
        found.append((name, re.findall(r"(?<!\S)(--?[a-z][\w-]*)", rest)))
    return found


def test_readme_commands_exist_with_their_options():
    commands = _commands()
    assert {name for name, _ in commands} >= {"demo", "train", "evaluate", "md", "ict", "bench"}
    for name, options in commands:
        assert name in COMMANDS, f"README: no command 'equitools {name}'"
        text = io.StringIO()
        with contextlib.redirect_stdout(text), pytest.raises(SystemExit):
            main([name, "--help"])
        for option in options:
            assert re.search(rf"(?<![\w-]){option}(?![\w-])", text.getvalue()), (
                f"README: 'equitools {name}' has no option {option}"
            )
