"""Regular expressions that run on text a customer sent must finish in linear time.

Python's ``re`` backtracks: ``(a+)+b`` takes exponential time, and a pattern that begins a
search with an unbounded run (``\\w+@``) takes quadratic time on a long run of letters. The
linear-time engine RE2 (``google-re2``) has no manylinux2014 aarch64 wheel for Python 3.13, the
platform the Lambda layer is built for, so the guarantee is kept in two hand-written parts:

- ``check`` reads a pattern's parse tree (the standard library's own parser, ``re._parser``: the
  only regex AST Python has, unchanged from 3.11 to 3.13) and refuses the constructs that
  backtrack exponentially: back-references, conditionals, a repetition inside a repetition and
  alternatives inside a repetition;
- ``probe`` runs a pattern over adversarial text (long runs of letters, digits, spaces, dashes,
  ``a@``, and its own keywords repeated) and refuses it when one run takes longer than a linear
  pattern ever could. It is what catches the quadratic cases a static rule cannot tell apart
  from safe ones, and it runs on the patterns a deployment brings (rule files in
  ``SOCIALCARE_CONFIG_DIR``, reference formats); the shipped ones are proven by the unit tests.

Code that runs a pattern also bounds the text it gives it where it can (the reference formats
are searched only in a short window around each candidate token).
"""

from __future__ import annotations

import re
import time
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]
from typing import Any

# Probe lengths, short first so the worst patterns are caught before a long run; the budget is
# per character: a linear pattern scans 10,000 characters in well under a millisecond, a
# quadratic one needs hundreds of millions of steps. The margin is wide both ways (a busy
# machine does not flake).
PROBE_LENGTHS = (1_000, 10_000)
PROBE_SECONDS_PER_CHAR = 1e-6

_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT)


def _walk(items: Any, in_repeat: bool) -> None:
    for op, av in items:
        if op in (sre.GROUPREF, sre.GROUPREF_EXISTS):
            raise ValueError("back-references and conditionals can take exponential time")
        if op in _REPEATS:
            low, high, sub = av
            repeats = high > 1
            if repeats and in_repeat:
                raise ValueError("a repetition inside a repetition (like (a+)+) can take exponential time")
            _walk(sub, in_repeat or repeats)
        elif op is sre.BRANCH:
            if in_repeat:
                raise ValueError("alternatives inside a repetition (like (a|ab)*) can take exponential time")
            for branch in av[1]:
                _walk(branch, in_repeat)
        elif op is sre.SUBPATTERN:
            _walk(av[-1], in_repeat)
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            _walk(av[1], in_repeat)
        elif op is sre.ATOMIC_GROUP:
            _walk(av, in_repeat)
        elif op is sre.POSSESSIVE_REPEAT:
            _walk(av[2], in_repeat or av[1] > 1)


def check(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled, or ValueError saying why it is not a valid or safe regex."""
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
        _walk(_parser.parse(pattern), in_repeat=False)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression {pattern!r}: {exc}") from exc
    except ValueError as exc:
        raise ValueError(f"unsafe regular expression {pattern!r}: {exc}") from exc
    return compiled


def _keywords(items: Any) -> list[str]:
    """Runs of literal characters in the pattern ("ordine", "earn "): repeated, they are the
    inputs that make a pattern start (and maybe rescan) at every position."""
    found: list[str] = []
    run: list[str] = []
    for op, av in items:
        if op is sre.LITERAL:
            run.append(chr(av))
            continue
        if len(run) > 1:
            found.append("".join(run))
        run = []
        if op is sre.SUBPATTERN:
            found += _keywords(av[-1])
        elif op is sre.BRANCH:
            for branch in av[1]:
                found += _keywords(branch)
        elif op in _REPEATS or op is sre.POSSESSIVE_REPEAT:
            found += _keywords(av[2])
    if len(run) > 1:
        found.append("".join(run))
    return found


def adversarial_texts(pattern: str, length: int) -> list[str]:
    """Texts that make backtracking patterns slow: long runs of one class, and the pattern's
    own keywords repeated, alone and glued to letters, digits and spaces."""
    units = ["a", "A", "1", " ", "-", "a@", "1 ", "a ", "Aa ", "a1-", "1/", ". ", "é", "\n", "#1", "a."]
    for word in _keywords(_parser.parse(pattern))[:4]:
        units += [word, word + " ", word + "a", word + "1", word + " 1"]
    return [(unit * (length // len(unit) + 1))[:length] for unit in units]


def probe(pattern: str) -> None:
    """ValueError if ``pattern`` is slow on some adversarial text (quadratic or worse)."""
    compiled = check(pattern)
    for length in PROBE_LENGTHS:
        for text in adversarial_texts(pattern, length):
            budget = length * PROBE_SECONDS_PER_CHAR
            # Over budget three times running: a pause of the machine (GC, a busy neighbour)
            # does not refuse a pattern.
            if all(_seconds(compiled, text) > budget for _ in range(3)):
                _refuse(pattern, text)


def _seconds(compiled: re.Pattern[str], text: str) -> float:
    started = time.perf_counter()
    for _ in compiled.finditer(text):
        pass
    return time.perf_counter() - started


def _refuse(pattern: str, text: str) -> None:
    raise ValueError(
        f"unsafe regular expression {pattern!r}: it backtracks on long input such as {text[:12]!r}... "
        "(bound its repetitions, e.g. \\w{0,20} instead of \\w+, or anchor it on a word)"
    )
