"""Shell completion scripts for bash, zsh and fish, generated from the argument parser.

Made here rather than with a library: `shtab` (the maintained generator for argparse) writes
bash, zsh and tcsh but not fish, and `argcomplete` runs Python on every Tab. The parser is walked
once into a tree of commands (each with its subcommands, options and the choices of its
options); each shell gets a small function that finds the command path among the words typed,
then offers that command's subcommands, options, or an option's choices, files or folders.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field

SHELLS = ("bash", "zsh", "fish")


@dataclass
class Node:
    """One command: ``path`` such as ``"predictions list"`` ("" for ``skytells`` itself)."""

    path: str
    help: str = ""
    subcommands: dict[str, str] = field(default_factory=dict)  # name -> help
    options: list[str] = field(default_factory=list)  # every spelling, e.g. -i, --input
    valued: dict[str, str] = field(default_factory=dict)  # option -> "files", "dirs" or ""
    choices: dict[str, list[str]] = field(default_factory=dict)  # option -> its choices


def _kind(action: argparse.Action) -> str:
    metavar = str(action.metavar or "")
    if action.dest == "output_dir":
        return "dirs"
    return "files" if metavar == "PATH" else ""


def tree(parser: argparse.ArgumentParser, path: str = "", text: str = "") -> Iterator[Node]:
    """The commands of ``parser`` and its subparsers, depth first."""
    node = Node(path, text)
    nested: list[tuple[str, argparse.ArgumentParser, str]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                node.subcommands[name] = helps.get(name, "")
                nested.append((name, sub, helps.get(name, "")))
        elif action.option_strings:
            node.options.extend(action.option_strings)
            if action.nargs != 0:
                for option in action.option_strings:
                    node.valued[option] = _kind(action)
                    if action.choices:
                        node.choices[option] = [str(c) for c in action.choices]
        elif action.choices:  # a positional with choices (completion SHELL): offered as words
            for choice in action.choices:
                node.subcommands[str(choice)] = ""
    yield node
    for name, sub, sub_help in nested:
        if name == "emulator":  # its own parser holds its options
            from ..emulator.__main__ import _parser as emulator_parser

            sub = emulator_parser(prog="skytells emulator")
        yield from tree(sub, f"{path} {name}".strip(), sub_help)


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    """The completion script of ``shell`` (bash, zsh or fish) for ``parser``."""
    nodes = list(tree(parser))
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](nodes)


def _q(text: str) -> str:
    return shlex.quote(text)


def _walk_cases(nodes: list[Node], assign: str, skip: str) -> str:
    """Shell ``case`` arms (bash/zsh syntax): a command word extends the path; an option that
    takes a value skips the next word."""
    arms = []
    for node in nodes:
        for name in node.subcommands:
            child = f"{node.path} {name}".strip()
            if any(n.path == child for n in nodes):
                arms.append(f"            {_q(node.path + '|' + name)}) {assign}{_q(child)} ;;")
        valued = sorted(o for o in node.valued if "=" not in o)
        if valued:
            patterns = "|".join(_q(f"{node.path}|{o}") for o in valued)
            arms.append(f"            {patterns}) {skip} ;;")
    return "\n".join(arms)


def _offer_cases(nodes: list[Node], words_of: str) -> str:
    """Shell ``case`` arms from the path to the words offered (bash/zsh syntax)."""
    arms = []
    for node in nodes:
        subs = " ".join(node.subcommands)
        opts = " ".join(node.options)
        arms.append(f"        {_q(node.path)}) {words_of}{_q(subs)} opts={_q(opts)} ;;")
    return "\n".join(arms)


def _value_cases(nodes: list[Node]) -> list[tuple[str, str, str]]:
    """(path|option, kind, choices) for each option that takes a value."""
    out = []
    for node in nodes:
        for option, kind in sorted(node.valued.items()):
            out.append((f"{node.path}|{option}", kind, " ".join(node.choices.get(option, []))))
    return out


def _bash(nodes: list[Node]) -> str:
    values = []
    for key, kind, choices in _value_cases(nodes):
        if choices:
            action = f'COMPREPLY=($(compgen -W {_q(choices)} -- "$cur"))'
        elif kind == "dirs":
            action = 'COMPREPLY=($(compgen -d -- "$cur"))'
        elif kind == "files":
            action = 'COMPREPLY=($(compgen -f -- "$cur"))'
        else:
            action = "COMPREPLY=()"
        values.append(f"        {_q(key)}) {action}; return ;;")
    value_arms = "\n".join(values)
    return f"""\
# bash completion for skytells: eval "$(skytells completion bash)" (e.g. in ~/.bashrc)
_skytells() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="" cmdpath="" subs="" opts="" i
    (( COMP_CWORD > 1 )) && prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    for (( i = 1; i < COMP_CWORD; i++ )); do
        case "$cmdpath|${{COMP_WORDS[i]}}" in
{_walk_cases(nodes, "cmdpath=", "i=$((i + 1))")}
        esac
    done
    case "$cmdpath|$prev" in
{value_arms}
    esac
    case "$cmdpath" in
{_offer_cases(nodes, "subs=")}
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    fi
}}
complete -F _skytells skytells
"""


def _zsh(nodes: list[Node]) -> str:
    values = []
    for key, kind, choices in _value_cases(nodes):
        if choices:
            action = f"compadd -- {choices}"
        elif kind == "dirs":
            action = "_directories"
        elif kind == "files":
            action = "_files"
        else:
            action = ":"
        values.append(f"        {_q(key)}) {action}; return ;;")
    value_arms = "\n".join(values)
    return f"""\
#compdef skytells
# zsh completion for skytells: eval "$(skytells completion zsh)" after compinit in ~/.zshrc
_skytells() {{
    local cur="${{words[CURRENT]}}" prev="${{words[CURRENT-1]}}" cmdpath="" subs="" opts=""
    local -i i
    for (( i = 2; i < CURRENT; i++ )); do
        case "$cmdpath|${{words[i]}}" in
{_walk_cases(nodes, "cmdpath=", "i=$((i + 1))")}
        esac
    done
    case "$cmdpath|$prev" in
{value_arms}
    esac
    case "$cmdpath" in
{_offer_cases(nodes, "subs=")}
    esac
    if [[ "$cur" == -* ]]; then
        compadd -- ${{=opts}}
    else
        compadd -- ${{=subs}}
    fi
}}
if (( $+functions[compdef] )); then
    compdef _skytells skytells
fi
"""


def _fish(nodes: list[Node]) -> str:
    arms = []
    for node in nodes:
        for name in node.subcommands:
            child = f"{node.path} {name}".strip()
            if any(n.path == child for n in nodes):
                arms.append(
                    f"            case {_q(node.path + '|' + name)}\n                set p {_q(child)}"
                )
        valued = sorted(o for o in node.valued)
        if valued:
            patterns = " ".join(_q(f"{node.path}|{o}") for o in valued)
            arms.append(f"            case {patterns}\n                set skip 1")
    lines = [
        "# fish completion for skytells: skytells completion fish > "
        "~/.config/fish/completions/skytells.fish",
        "function __skytells_path",
        "    set -l p ''",
        "    set -l skip 0",
        "    set -l words (commandline -opc)",
        "    set -e words[1]",
        "    for w in $words",
        "        if test $skip = 1",
        "            set skip 0",
        "            continue",
        "        end",
        '        switch "$p|$w"',
        *arms,
        "        end",
        "    end",
        "    echo $p",
        "end",
        "function __skytells_is",
        "    set -l p (__skytells_path)",
        '    test "$p" = "$argv[1]"',
        "end",
        "complete -c skytells -f",
    ]
    for node in nodes:
        when = f"-n {_q(f'__skytells_is {_q(node.path)}')}"
        for name, text in node.subcommands.items():
            description = f" -d {_q(text)}" if text else ""
            lines.append(f"complete -c skytells {when} -a {_q(name)}{description}")
        for option in node.options:
            flag = f"-l {option[2:]}" if option.startswith("--") else f"-s {option[1:]}"
            extra = ""
            if option in node.valued:
                kind = node.valued[option]
                choices = node.choices.get(option)
                if choices:
                    extra = f" -x -a {_q(' '.join(choices))}"
                elif kind == "files":
                    extra = " -r -F"
                elif kind == "dirs":
                    extra = " -x -a '(__fish_complete_directories)'"
                else:
                    extra = " -x"
            lines.append(f"complete -c skytells {when} {flag}{extra}")
    return "\n".join(lines) + "\n"
