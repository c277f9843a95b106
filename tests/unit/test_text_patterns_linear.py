"""Every pattern that runs on a customer's text finishes in linear time (issue 10 §5).

Each code path that reads message text (e-mails, references, self-introductions, names, phones,
triage, FAQ, listening's spam phrases, sentiment) runs on adversarial 200,000-character inputs
and must finish in under a second; the e-mail pattern used to take minutes on a run of letters
without an '@'. A deployment's own patterns are probed at cold start (config/patterns.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from socialcare.config import patterns
from socialcare.config.loader import CONFIG_DIR, load_rules
from socialcare.config.rules import FaqBook, IdentityRules, ListeningRules, TriageRules
from socialcare.domain import names, phones
from socialcare.domain.faq import FaqIndex
from socialcare.domain.identity.evidence import Rules, extract_refs, find_emails, gather
from socialcare.domain.sentiment.analyser import SentimentAnalyser, analyse_offline, normalise
from socialcare.domain.triage import Triager
from socialcare.errors import ConfigurationError
from socialcare.models.interaction import Author, Channel, Interaction, Kind

N = 200_000
LIMIT_SECONDS = 1.0
RULES = Rules.compile(load_rules(IdentityRules), "IT")


def repeated(unit: str) -> str:
    return (unit * (N // len(unit) + 1))[:N]


ADVERSARIAL = {
    "letters": repeated("a"),
    "capitals": repeated("A"),
    "digits": repeated("1"),
    "spaces": repeated(" "),
    "dashes": repeated("-"),
    "a@": repeated("a@"),
    "a@a.": repeated("a@a."),
    "local-dots": repeated("a.a.a@"),
    "digits-spaced": repeated("1 "),
    "numbers": repeated("12345 "),
    "phone-like": repeated("333 "),
    "phones": repeated("+39 333 1234567 "),
    "digit-dashes": repeated("1-2-"),
    "order-words": repeated("ordine "),
    "order-fillers": repeated("ordine n. "),
    "orders": repeated("ordine 123456 "),
    "refs": repeated("rif. AB-2024-00017 "),
    "ord-tokens": repeated("ORD-123456 "),
    "sono": repeated("sono "),
    "mi-chiamo": "mi chiamo " + repeated("Anna "),
    "mi-chiamo-repeated": repeated("mi chiamo Anna "),
    "n-words": repeated("n "),
    "keywords": repeated("rimborso guadagna consegna "),
    "glued-keyword": repeated("guadagn"),
    "accents": repeated("è"),
}


def within_a_second(run: Callable[[], object]) -> float:
    # CPU time of this thread, not the wall clock: a busy CI machine must not fail a linear path,
    # and a backtracking one takes minutes of CPU on 200,000 characters, not seconds.
    started = time.thread_time()
    run()
    return time.thread_time() - started


def interaction(text: str) -> Interaction:
    return Interaction(
        id="messenger:m1", channel=Channel.MESSENGER, kind=Kind.DIRECT_MESSAGE, platform_message_id="m1",
        author=Author(id="psid-1", name="Anna Bianchi"), text=text, occurred_at=datetime(2026, 11, 2, tzinfo=UTC),
    )


TRIAGER = Triager(load_rules(TriageRules), SentimentAnalyser())
FAQ = FaqIndex(load_rules(FaqBook))
SPAM = [re.compile(p) for p in load_rules(ListeningRules).spam.phrases]

PATHS: dict[str, Callable[[str], object]] = {
    "e-mails": lambda text: find_emails(text, RULES.email),
    "references": lambda text: extract_refs(text, RULES),
    "self-introductions": lambda text: names.self_introduction(text, RULES.self_introductions),
    "name-tokens": names.tokens,
    "phones": lambda text: phones.find_in_text(text, "IT"),
    "triage": lambda text: TRIAGER.categorise(text),
    "faq": lambda text: FAQ.suggest(text),
    "spam-phrases": lambda text: [p.search(normalise(text)) for p in SPAM],
    "sentiment": analyse_offline,
    "identity.gather": lambda text: gather(interaction(text), RULES),
}


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_each_code_path_reads_200k_adversarial_characters_in_under_a_second(path: str, name: str) -> None:
    elapsed = within_a_second(lambda: PATHS[path](ADVERSARIAL[name]))
    assert elapsed < LIMIT_SECONDS, f"{path} took {elapsed:.2f}s on {name}"


def test_the_old_email_pattern_was_the_quadratic_one() -> None:
    # What the linear e-mail finder replaces: searching the pattern through 20,000 letters
    # already takes about as long as the whole of gather on 200,000.
    assert find_emails("scrivetemi a Anna.B@Example.com o a anna@example.org.", RULES.email) == [
        "Anna.B@Example.com", "anna@example.org"]
    with pytest.raises(ValueError, match="backtracks"):
        patterns.probe(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


def test_every_shipped_pattern_passes_the_probe_a_deployment_faces() -> None:
    shipped = [p for ps in load_rules(TriageRules).categories.values() for p in ps]
    shipped += list(load_rules(ListeningRules).spam.phrases) + list(load_rules(IdentityRules).self_introductions)
    for pattern in shipped:
        patterns.probe(pattern)


@pytest.mark.parametrize(
    ("pattern", "why"),
    [(r"(a+)+b", "inside a repetition"), (r"(?:x|xy)*z", "alternatives"), (r"(\w)\1", "back-references"),
     (r"guadagn\w+ \d+", "backtracks"), (r"\w+@", "backtracks"), (r"a[a-z]*x", "backtracks")],
)
def test_unsafe_patterns_are_refused(pattern: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        patterns.probe(pattern)


def test_a_slow_pattern_in_a_deployment_rule_file_fails_the_cold_start(tmp_path: Path) -> None:
    shipped = (CONFIG_DIR / "listening.yaml").read_text(encoding="utf-8")
    (tmp_path / "listening.yaml").write_text(shipped.replace("'onlyfans'", "'only\\w+fans'"), encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"listening.yaml is invalid: .*only\\\\w\+fans.*backtracks"):
        load_rules(ListeningRules, str(tmp_path))
