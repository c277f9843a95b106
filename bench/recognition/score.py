"""Scoring a recognition outcome against the ground truth (bench/README.md defines every number).

The unit is an *account* (one platform identity of one person: an X account, a Messenger PSID,
a WhatsApp number, a caller id, an e-mail address...). Every pair of accounts is either a true
pair (one person) or not, and either put on one customer or not.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable
from itertools import combinations
from typing import Any

from bench.recognition.population import Account, Population
from socialcare.domain import names


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[Hashable, Hashable] = {}

    def find(self, x: Hashable) -> Hashable:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: Hashable, b: Hashable) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[ra] = rb
        return True


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def _holders(accounts: Iterable[Account]) -> dict[tuple[str, str], list[Account]]:
    holders: dict[tuple[str, str], list[Account]] = defaultdict(list)
    for account in accounts:
        for ident in account.verified | account.typed:
            holders[ident].append(account)
    return holders


def allowed_links(population: Population) -> tuple[UnionFind, UnionFind]:
    """(accepted, any): accounts joined by links the documented rules allow, and by any shared
    identifier at all (transitively, only between accounts of one person for ``any``).

    ``accepted`` replays the documented rules (docs/identity.md) on the ground truth, as a reader
    who never misses a stated identifier or name would apply them, message by message in time
    order: an account's *first* message joins an existing customer when it shares an identifier
    with it that both sides assert (a verified phone or e-mail), or any identifier the customer
    holds while the message names the person (first name and surname) and so does the customer;
    identifiers go to whoever states them first (a verified assertion takes over a typed one);
    later messages add identifiers to their own customer only when they name the person. Two
    customers are never joined afterwards: that is an agent's merge.
    """
    accepted, anything = UnionFind(), UnionFind()
    for accounts in _holders(population.accounts).values():
        for a, b in combinations(accounts, 2):
            if a.pid == b.pid:
                anything.union(a.aid, b.aid)
    holder: dict[tuple[str, str], tuple[int, bool]] = {}  # identifier -> (an account of its customer, verified)
    # customers (union-find roots) -> the full names (first name, surname) they are known by
    named: dict[Hashable, set[tuple[str, str]]] = defaultdict(set)
    started: set[int] = set()
    for account, ids, says_name in _messages(population):
        first = account.aid not in started
        started.add(account.aid)
        name = _full_name(population, account)
        joined = first and _join(accepted, named, holder, account, ids, says_name and name)
        me = accepted.find(account.aid)
        agree = (first and not joined) or (says_name and name in named[me])
        if says_name:
            named[me].add(name)
        for ident in ids:
            held = holder.get(ident)
            verified = ident in account.verified
            if held is None and (verified or agree):
                holder[ident] = (account.aid, verified)
            elif held is not None and verified and not held[1]:
                holder[ident] = (account.aid, True)  # the owner's assertion takes a typed claim over
    return accepted, anything


def _full_name(population: Population, account: Account) -> tuple[str, str]:
    person = population.people[account.pid]
    return names.fold(person.first), names.fold(person.last)


def _join(accepted: UnionFind, named: dict[Hashable, set[tuple[str, str]]],
          holder: dict[tuple[str, str], tuple[int, bool]], account: Account, ids: frozenset[tuple[str, str]],
          says_name: tuple[str, str] | bool) -> bool:
    """A new account's first message joins the first customer its evidence allows, in the order
    of the documented rules: an identifier both sides assert, then one the message asserts, then a
    typed phone or e-mail, then a reference. ``says_name``: the author's full name when the
    message states it; a customer agrees when it is known by that same name (the person's, not
    whoever else quoted the identifier first)."""
    def precedence(ident: tuple[str, str]) -> tuple[int, tuple[str, str]]:
        verified = ident in account.verified
        rank = 0 if verified and holder[ident][1] else 1 if verified else 3 if ident[0] == "ref" else 2
        return rank, ident

    for ident in sorted((i for i in ids if i in holder), key=precedence):
        held = holder[ident]
        root = accepted.find(held[0])
        was_named = bool(says_name) and says_name in named[root]
        if (ident in account.verified and held[1]) or was_named:
            mine = accepted.find(account.aid)
            accepted.union(account.aid, held[0])
            named[accepted.find(account.aid)] |= named.pop(root, set()) | named.pop(mine, set())
            return True
    return False


def _messages(population: Population) -> list[tuple[Account, frozenset[tuple[str, str]], bool]]:
    timed = [(m.occurred_at, m.id, a, facts[0], facts[1])
             for a in population.accounts for m, facts in zip(a.messages, a.facts, strict=True)]
    return [(a, ids, says) for _, _, a, ids, says in sorted(timed, key=lambda t: (t[0], t[1]))]


def evaluate(population: Population, customer_of: dict[int, str],
             suggested: dict[str, set[str]] | None = None) -> dict[str, Any]:
    """Pairwise precision/recall, false merges and suggestion coverage of one outcome.

    ``suggested``: customer id -> the customers a stored suggestion pairs it with (None: the
    outcome makes no suggestions, like the baseline)."""
    accepted, anything = allowed_links(population)
    by_customer: dict[str, list[Account]] = defaultdict(list)
    for account in population.accounts:
        by_customer[customer_of[account.aid]].append(account)
    predicted = sum(_pairs(len(v)) for v in by_customer.values())
    true_positive = sum(_pairs(n) for v in by_customer.values() for n in Counter(a.pid for a in v).values())
    mixed = {c: sorted({a.pid for a in v}) for c, v in by_customer.items() if len({a.pid for a in v}) > 1}
    by_person: dict[int, list[Account]] = defaultdict(list)
    for account in population.accounts:
        by_person[account.pid].append(account)
    counts = Counter[str]()
    scheme_pairs, scheme_linked = Counter[str](), Counter[str]()
    for pid, accounts in by_person.items():
        scheme = population.people[pid].brand.scheme
        for a, b in combinations(accounts, 2):
            linked = customer_of[a.aid] == customer_of[b.aid]
            counts["true_pairs"] += 1
            counts["linked"] += linked
            if accepted.find(a.aid) == accepted.find(b.aid):
                counts["allowed"] += 1
                counts["allowed_linked"] += linked
                scheme_pairs[scheme] += 1
                scheme_linked[scheme] += linked
            elif anything.find(a.aid) == anything.find(b.aid):
                counts["undecidable"] += 1
                counts["undecidable_linked"] += linked
                if not linked and suggested is not None:
                    counts["undecidable_suggested"] += _reached(customer_of[a.aid], customer_of[b.aid],
                                                                {customer_of[x.aid] for x in accounts}, suggested)
            else:
                counts["no_evidence"] += 1
                counts["no_evidence_linked"] += linked
    undecided = counts["undecidable"] - counts["undecidable_linked"]
    return {
        "customers": len(by_customer),
        "precision": round(true_positive / predicted, 4) if predicted else 1.0,
        "recall": round(counts["linked"] / counts["true_pairs"], 4) if counts["true_pairs"] else 1.0,
        "recall_of_allowed": round(counts["allowed_linked"] / counts["allowed"], 4) if counts["allowed"] else 1.0,
        "false_merges": len(mixed),
        "false_merge_pairs": predicted - true_positive,
        "true_pairs": counts["true_pairs"],
        "allowed_pairs": counts["allowed"],
        "allowed_linked": counts["allowed_linked"],
        "recall_of_allowed_by_reference_scheme": {k: round(scheme_linked[k] / n, 4)
                                                  for k, n in sorted(scheme_pairs.items())},
        "undecidable_pairs": counts["undecidable"],
        "undecidable_linked": counts["undecidable_linked"],
        "undecidable_suggested": counts["undecidable_suggested"] if suggested is not None else None,
        "suggestion_rate": (round(counts["undecidable_suggested"] / undecided, 4) if undecided else 1.0)
        if suggested is not None else None,
        "no_evidence_pairs": counts["no_evidence"],
        "no_evidence_linked": counts["no_evidence_linked"],
        "mixed_customers": mixed,
    }


def missed(population: Population, customer_of: dict[int, str], suggested: dict[str, set[str]]) -> dict[str, Any]:
    """Where the misses are: the allowed pairs left apart and the undecidable pairs left apart
    without a suggestion, counted by the person's role (customer, namesake, relative, family),
    brand format and pair of channels."""
    accepted, anything = allowed_links(population)
    by_person: dict[int, list[Account]] = defaultdict(list)
    for account in population.accounts:
        by_person[account.pid].append(account)
    found: dict[str, dict[str, Counter[str]]] = {
        kind: {"by_role": Counter(), "by_reference_scheme": Counter(), "by_channels": Counter()}
        for kind in ("allowed_not_linked", "undecidable_not_suggested")}
    for pid, accounts in by_person.items():
        person, own = population.people[pid], {customer_of[x.aid] for x in accounts}
        for a, b in combinations(accounts, 2):
            ca, cb = customer_of[a.aid], customer_of[b.aid]
            if ca == cb:
                continue
            if accepted.find(a.aid) == accepted.find(b.aid):
                kind = "allowed_not_linked"
            elif anything.find(a.aid) == anything.find(b.aid) and not _reached(ca, cb, own, suggested):
                kind = "undecidable_not_suggested"
            else:
                continue
            found[kind]["by_role"][person.role] += 1
            found[kind]["by_reference_scheme"][person.brand.scheme] += 1
            found[kind]["by_channels"]["+".join(sorted((a.channel, b.channel)))] += 1
    return {kind: {k: dict(c.most_common()) for k, c in parts.items()} for kind, parts in found.items()}


def _reached(a: str, b: str, own: set[str], suggested: dict[str, set[str]]) -> bool:
    """True when suggestions among the person's own customers connect ``a`` to ``b``: an agent
    following them reaches every piece of the person."""
    seen, todo = {a}, [a]
    while todo:
        for other in suggested.get(todo.pop(), set()) & own:
            if other == b:
                return True
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return False


def baseline(population: Population) -> dict[int, str]:
    """What the open-source peers do: one contact per exact verified phone (E.164) or e-mail."""
    links = UnionFind()
    for ident, accounts in _holders(population.accounts).items():
        verified = [a for a in accounts if ident in a.verified]
        for a, b in zip(verified, verified[1:], strict=False):
            links.union(a.aid, b.aid)
    return {a.aid: f"base-{links.find(a.aid)}" for a in population.accounts}
