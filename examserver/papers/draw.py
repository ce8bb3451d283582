"""Drawing a paper from a blueprint: plain Python, seeded and reproducible.

Dataclasses in, dataclasses out; no Flask and no database. The same spec, pools, seed, exposure
and neighbours always give the same paper, so a paper can be explained from its recorded seed.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from examserver.question_bank.types import get_type


@dataclass(frozen=True)
class SectionSpec:
    """One section of a blueprint as the draw sees it: a type, a count and points each."""

    type: str
    count: int
    points: float


@dataclass(frozen=True)
class BlueprintSpec:
    """What the draw needs from a blueprint: its sections in order and option shuffling."""

    sections: tuple[SectionSpec, ...]
    shuffle_options: bool = True


@dataclass(frozen=True)
class PoolQuestion:
    """An eligible question: the version a paper would show, its question and option keys."""

    version_id: int
    question_id: int
    type: str
    option_keys: tuple[str, ...]


@dataclass(frozen=True)
class DrawnItem:
    """One question of a drawn paper; ``position`` counts from 1 across the whole paper."""

    section_index: int
    position: int
    version_id: int
    question_id: int
    option_order: tuple[str, ...]
    points: float


@dataclass(frozen=True)
class DrawnPaper:
    """A drawn paper, and the positions where a neighbour's question could not be avoided."""

    seed: str
    items: tuple[DrawnItem, ...]
    neighbour_clashes: tuple[int, ...] = ()

    @property
    def version_ids(self) -> list[int]:
        """The version ids in position order: what a neighbour passes as ``avoid``."""
        return [item.version_id for item in self.items]

    @property
    def separated(self) -> bool:
        """Whether no question sits at the same position as on a neighbour's paper."""
        return not self.neighbour_clashes

    @property
    def max_score(self) -> float:
        return float(sum(item.points for item in self.items))


class DrawError(ValueError):
    """A paper cannot be drawn; ``code`` is stable, the numbers say where and why."""

    def __init__(
        self,
        code: str,
        message: str,
        section_index: int | None = None,
        needed: int | None = None,
        available: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.section_index = section_index
        self.needed = needed
        self.available = available


@dataclass(frozen=True)
class OverlapEstimate:
    """Measured closeness of two independently drawn papers, averaged over trials."""

    trials: int
    common_fraction: float  # share of a paper's questions the other paper also has
    common_questions: float
    same_position: float  # questions at the same position on both papers


# ----------------------------------------------------------------------------------- draw
def draw_paper(
    spec: BlueprintSpec,
    pools: Sequence[Sequence[PoolQuestion]],
    seed: str,
    exposure: Mapping[int, int] | None = None,
    avoid: Sequence[Sequence[int]] | None = None,
) -> DrawnPaper:
    """Draw one paper: per section, the least-exposed questions at random, then shuffled.

    ``pools[i]`` holds the eligible questions of section ``i``; ``exposure`` maps a version id to
    how often it was used (lower is preferred); ``avoid`` lists the version ids, by position, of
    neighbouring seats' papers: no question lands at the position a neighbour has it at, unless
    the pool leaves no way, in which case the position is listed in ``neighbour_clashes``.
    """
    clean = _check(spec, pools)
    needs = [section.count for section in spec.sections]
    capacity = assignable(needs, [[q.question_id for q in pool] for pool in clean])
    for index, (need, cap) in enumerate(zip(needs, capacity, strict=True)):
        if cap < need:
            raise _too_small(index, need, cap)
    state = _DrawState(needs, clean)
    items: list[DrawnItem] = []
    clashes: list[int] = []
    first = 1
    for index, section in enumerate(spec.sections):
        # Seeded, not secret: a paper must be reproducible from its recorded seed.
        pick = random.Random(f"{seed}/section/{index}/pick")  # noqa: S311
        order = random.Random(f"{seed}/section/{index}/order")  # noqa: S311
        shuffle = random.Random(f"{seed}/section/{index}/options")  # noqa: S311
        ranked = _ranked(clean[index], exposure or {}, pick)
        chosen = state.choose(index, ranked)
        order.shuffle(chosen)
        positions = list(range(first, first + section.count))
        forbidden = [_forbidden(avoid, p) for p in positions]
        chosen, section_clashes = _separate(chosen, positions, forbidden, ranked, state, index,
                                            order)
        clashes.extend(section_clashes)
        shuffles = spec.shuffle_options and get_type(section.type).shuffles_options()
        for question, position in zip(chosen, positions, strict=True):
            keys = list(question.option_keys)
            if shuffles:
                shuffle.shuffle(keys)
            items.append(
                DrawnItem(
                    section_index=index,
                    position=position,
                    version_id=question.version_id,
                    question_id=question.question_id,
                    option_order=tuple(keys),
                    points=float(section.points),
                )
            )
        first += section.count
    return DrawnPaper(seed=seed, items=tuple(items), neighbour_clashes=tuple(clashes))


def _check(
    spec: BlueprintSpec, pools: Sequence[Sequence[PoolQuestion]]
) -> list[list[PoolQuestion]]:
    """Return the pools deduplicated and sorted by version id, or raise on a bad input."""
    if not spec.sections:
        raise DrawError("no_sections", "the blueprint has no sections")
    if len(pools) != len(spec.sections):
        raise DrawError(
            "pools_mismatch", f"{len(spec.sections)} sections but {len(pools)} pools were given"
        )
    clean: list[list[PoolQuestion]] = []
    for index, (section, pool) in enumerate(zip(spec.sections, pools, strict=True)):
        try:
            get_type(section.type)
        except KeyError:
            raise DrawError(
                "unknown_type", f"section {index + 1} has unknown type {section.type!r}",
                section_index=index,
            ) from None
        if section.count < 1:
            raise DrawError("bad_count", f"section {index + 1} draws no questions", index)
        by_question: dict[int, PoolQuestion] = {}
        for question in pool:
            if question.type != section.type:
                raise DrawError(
                    "pool_type_mismatch",
                    f"section {index + 1} is {section.type} but its pool holds version "
                    f"{question.version_id} of type {question.type}",
                    section_index=index,
                )
            kept = by_question.get(question.question_id)
            if kept is None or question.version_id < kept.version_id:
                by_question[question.question_id] = question
        ordered = sorted(by_question.values(), key=lambda q: q.version_id)
        if len(ordered) < section.count:
            raise _too_small(index, section.count, len(ordered))
        clean.append(ordered)
    return clean


def _too_small(index: int, needed: int, available: int) -> DrawError:
    return DrawError(
        "pool_too_small",
        f"section {index + 1} needs {needed} questions but only {available} are available",
        section_index=index,
        needed=needed,
        available=available,
    )


def _ranked(
    pool: Sequence[PoolQuestion], exposure: Mapping[int, int], rng: random.Random
) -> list[PoolQuestion]:
    """Order a pool least-exposed first, uniformly at random within one exposure level."""
    keyed = [(exposure.get(q.version_id, 0), rng.random(), q) for q in pool]
    keyed.sort(key=lambda t: (t[0], t[1]))
    return [q for _, _, q in keyed]


def _forbidden(avoid: Sequence[Sequence[int]] | None, position: int) -> set[int]:
    if not avoid:
        return set()
    return {paper[position - 1] for paper in avoid if len(paper) >= position}


def _separate(
    chosen: list[PoolQuestion],
    positions: list[int],
    forbidden: list[set[int]],
    ranked: list[PoolQuestion],
    state: _DrawState,
    index: int,
    rng: random.Random,
) -> tuple[list[PoolQuestion], list[int]]:
    """Move questions off positions a neighbour holds them at: rearrange, else re-draw, else
    leave them and report the positions."""
    if not any(forbidden):
        return chosen, []
    slots = _arrange(chosen, forbidden, rng)
    spare = [q for q in chosen if q not in slots]
    placed: list[PoolQuestion] = []
    clashes: list[int] = []
    for slot, question in enumerate(slots):
        if question is None:
            old = spare.pop()
            question = state.replace(index, old, ranked, forbidden[slot])
            if question is None:
                question = old
                clashes.append(positions[slot])
        placed.append(question)
    return placed, clashes


def _arrange(
    chosen: list[PoolQuestion], forbidden: list[set[int]], rng: random.Random
) -> list[PoolQuestion | None]:
    """Keep the shuffled order where it is allowed and find places for the rest by augmenting
    paths; a slot no chosen question may fill stays None."""
    size = len(chosen)
    at: list[int | None] = [None] * size  # slot -> index into chosen
    where: dict[int, int] = {}  # index into chosen -> slot
    for slot, question in enumerate(chosen):
        if question.version_id not in forbidden[slot]:
            at[slot], where[slot] = slot, slot
    order = list(range(size))
    rng.shuffle(order)
    for start in range(size):
        if at[start] is not None:
            continue
        came_from: dict[int, int | None] = {start: None}  # slot -> slot it was reached from
        queue = deque([start])
        found: tuple[int, int] | None = None
        while queue and found is None:
            slot = queue.popleft()
            for item in order:
                if chosen[item].version_id in forbidden[slot]:
                    continue
                holder = where.get(item)
                if holder is None:
                    found = (slot, item)
                    break
                if holder not in came_from:
                    came_from[holder] = slot
                    queue.append(holder)
        if found is None:
            continue
        slot, item = found
        current: int | None = slot
        while current is not None:
            displaced = at[current]
            at[current], where[item] = item, current
            previous = came_from[current]
            if previous is None or displaced is None:
                break
            item, current = displaced, previous
    return [chosen[i] if i is not None else None for i in at]


class _DrawState:
    """Which questions a paper already holds, so overlapping pools never repeat a question
    and an early section never takes what a later one cannot do without."""

    def __init__(self, needs: list[int], pools: list[list[PoolQuestion]]) -> None:
        self.needs = list(needs)
        self.pools = [[q.question_id for q in pool] for pool in pools]
        self.taken: set[int] = set()
        members: dict[int, set[int]] = {}
        for index, ids in enumerate(self.pools):
            for qid in ids:
                members.setdefault(qid, set()).add(index)
        self.members = members
        self.neighbours = [
            {k for qid in ids for k in members[qid]} for ids in self.pools
        ]

    def choose(self, index: int, ranked: list[PoolQuestion]) -> list[PoolQuestion]:
        """Take ``needs[index]`` questions for section ``index`` in ranked order."""
        chosen: list[PoolQuestion] = []
        for question in ranked:
            if len(chosen) == self.needs[index]:
                break
            if self._can_take(index, question.question_id, len(chosen)):
                chosen.append(question)
                self.taken.add(question.question_id)
        if len(chosen) < self.needs[index]:  # cannot happen after the global check
            raise _too_small(index, self.needs[index], len(chosen))
        return chosen

    def replace(
        self, index: int, old: PoolQuestion, ranked: list[PoolQuestion], forbidden: set[int]
    ) -> PoolQuestion | None:
        """Swap ``old`` for the best-ranked free question not in ``forbidden``, if any."""
        self.taken.discard(old.question_id)
        need_left = self.needs[index] - 1
        for question in ranked:
            if question.question_id in self.taken or question.version_id in forbidden:
                continue
            if question.question_id == old.question_id:
                continue
            if self._can_take(index, question.question_id, need_left):
                self.taken.add(question.question_id)
                return question
        self.taken.add(old.question_id)
        return None

    def _can_take(self, index: int, qid: int, already: int) -> bool:
        """Whether section ``index`` may take ``qid`` and every later section still fills."""
        if qid in self.taken:
            return False
        later = {k for k in self.members[qid] if k > index}
        if not later:
            return True
        taken = self.taken | {qid}
        remaining = {k: self.needs[k] for k in range(index + 1, len(self.needs))}
        remaining[index] = self.needs[index] - already - 1
        # Fast sufficient test: each pool can feed every section it shares questions with.
        if all(
            sum(1 for q in self.pools[k] if q not in taken)
            >= sum(remaining[j] for j in self.neighbours[k] if j in remaining)
            for k in remaining
        ):
            return True
        sections = sorted(remaining)
        filled = assignable(
            [remaining[k] for k in sections],
            [[q for q in self.pools[k] if q not in taken] for k in sections],
        )
        return all(
            got >= remaining[k] for k, got in zip(sections, filled, strict=True)
        )


def assignable(needs: Sequence[int], pools: Sequence[Sequence[int]]) -> list[int]:
    """Return how many of its ``needs`` each section can fill when no question serves twice.

    A maximum matching of sections (each with ``needs[i]`` slots) to question ids, found by
    augmenting paths; earlier sections are served first, as in the draw.
    """
    owner: dict[int, int] = {}
    filled = [0] * len(needs)
    for section, need in enumerate(needs):
        for _ in range(need):
            if not _augment(section, pools, owner):
                break
            filled[section] += 1
    return filled


def _augment(start: int, pools: Sequence[Sequence[int]], owner: dict[int, int]) -> bool:
    """Find a free question for ``start``, re-routing owned ones along the way."""
    came_from: dict[int, tuple[int, int] | None] = {start: None}
    queue = deque([start])
    while queue:
        section = queue.popleft()
        for qid in pools[section]:
            holder = owner.get(qid)
            if holder == section:
                continue
            if holder is None:
                # Walk back, handing each question on the path to the section that reached it.
                current: int | None = section
                question = qid
                while current is not None:
                    previous = came_from[current]
                    owner[question] = current
                    if previous is None:
                        break
                    current, question = previous
                return True
            if holder not in came_from:
                came_from[holder] = (section, qid)
                queue.append(holder)
    return False


# ------------------------------------------------------------------------------- distance
def expected_common(counts: Sequence[int], sizes: Sequence[int]) -> float:
    """Expected number of questions two independent papers share: sum of k*k/n per section."""
    return float(sum(k * k / n for k, n in zip(counts, sizes, strict=True) if n > 0))


def expected_overlap(counts: Sequence[int], sizes: Sequence[int]) -> float:
    """Expected share of a paper's questions another paper also has: sum(k²/n) / sum(k)."""
    total = sum(counts)
    return expected_common(counts, sizes) / total if total else 0.0


def expected_same_position(counts: Sequence[int], sizes: Sequence[int]) -> float:
    """Expected number of positions where two papers show the same question: sum of k/n."""
    return float(sum(k / n for k, n in zip(counts, sizes, strict=True) if n > 0))


def estimate_overlap(
    spec: BlueprintSpec, pools: Sequence[Sequence[PoolQuestion]], trials: int, seed: str
) -> OverlapEstimate:
    """Measure, by drawing ``trials`` pairs of papers, how much two papers have in common."""
    if trials < 1:
        raise DrawError("bad_trials", "at least one trial is needed")
    common = 0
    same = 0
    total = sum(section.count for section in spec.sections)
    for trial in range(trials):
        first = draw_paper(spec, pools, f"{seed}/{trial}/a")
        second = draw_paper(spec, pools, f"{seed}/{trial}/b")
        common += len(
            {i.question_id for i in first.items} & {i.question_id for i in second.items}
        )
        same += sum(
            a.question_id == b.question_id
            for a, b in zip(first.items, second.items, strict=True)
        )
    return OverlapEstimate(
        trials=trials,
        common_fraction=common / (trials * total),
        common_questions=common / trials,
        same_position=same / trials,
    )
