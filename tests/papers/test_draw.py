"""The paper draw: fair, reproducible, least-used first, neighbours apart. No app, no database."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from examserver.papers.draw import (
    BlueprintSpec,
    DrawError,
    PoolQuestion,
    SectionSpec,
    assignable,
    draw_paper,
    estimate_overlap,
    expected_common,
    expected_overlap,
    expected_same_position,
)

FOUR = ("o1", "o2", "o3", "o4")


def pool(qtype: str, ids: range | list[int], keys: tuple[str, ...] = FOUR) -> list[PoolQuestion]:
    """Pool questions whose version id and question id are the same number."""
    if qtype == "judge":
        keys = ("T", "F")
    return [PoolQuestion(version_id=i, question_id=i, type=qtype, option_keys=keys) for i in ids]


SPEC = BlueprintSpec(
    (SectionSpec("judge", 5, 1.0), SectionSpec("single", 3, 2.0), SectionSpec("multi", 2, 2.5))
)
POOLS = [
    pool("judge", range(1, 21)), pool("single", range(101, 111)), pool("multi", range(201, 206))
]
TYPE_OF = {q.version_id: q.type for p in POOLS for q in p}


def chi_square(observed: Counter, cells: list, total: int) -> float:
    expected = total / len(cells)
    return sum((observed[c] - expected) ** 2 / expected for c in cells)


def test_sections_come_in_order_with_their_counts_types_and_points() -> None:
    paper = draw_paper(SPEC, POOLS, "seed-1")
    assert [i.position for i in paper.items] == list(range(1, 11))
    assert [i.section_index for i in paper.items] == [0] * 5 + [1] * 3 + [2] * 2
    assert [TYPE_OF[i.version_id] for i in paper.items] == ["judge"] * 5 + ["single"] * 3 + [
        "multi"
    ] * 2
    assert [i.points for i in paper.items] == [1.0] * 5 + [2.0] * 3 + [2.5] * 2
    assert paper.max_score == 16.0
    assert len(set(paper.version_ids)) == 10
    assert paper.separated


def test_a_question_in_two_pools_is_never_drawn_twice() -> None:
    spec = BlueprintSpec((SectionSpec("single", 4, 1), SectionSpec("single", 4, 1)))
    pools = [pool("single", range(1, 7)), pool("single", range(4, 10))]
    for n in range(300):
        paper = draw_paper(spec, pools, f"s{n}")
        assert len({i.question_id for i in paper.items}) == 8
        assert all(i.version_id in range(1, 7) for i in paper.items[:4])
        assert all(i.version_id in range(4, 10) for i in paper.items[4:])


def test_an_early_section_leaves_a_later_one_what_it_cannot_do_without() -> None:
    # Section 2 can only use question 1; section 1 must never take it, whatever the seed.
    spec = BlueprintSpec((SectionSpec("single", 2, 1), SectionSpec("single", 1, 1)))
    pools = [pool("single", [1, 2, 3]), pool("single", [1])]
    for n in range(100):
        paper = draw_paper(spec, pools, f"s{n}")
        assert paper.version_ids[2] == 1
        assert set(paper.version_ids[:2]) == {2, 3}


def test_overlapping_pools_too_small_together_raise_pool_too_small() -> None:
    spec = BlueprintSpec((SectionSpec("single", 2, 1), SectionSpec("single", 1, 1)))
    with pytest.raises(DrawError) as info:
        draw_paper(spec, [pool("single", [1, 2]), pool("single", [1, 2])], "x")
    assert (info.value.code, info.value.section_index, info.value.needed, info.value.available) == (
        "pool_too_small", 1, 1, 0
    )


def test_a_pool_smaller_than_its_count_raises_pool_too_small() -> None:
    spec = BlueprintSpec((SectionSpec("judge", 2, 1), SectionSpec("single", 5, 1)))
    with pytest.raises(DrawError) as info:
        draw_paper(spec, [pool("judge", range(1, 5)), pool("single", range(10, 14))], "x")
    error = info.value
    assert (error.code, error.section_index, error.needed, error.available) == (
        "pool_too_small", 1, 5, 4
    )
    assert "section 2" in str(error)


def test_bad_inputs_raise_with_codes() -> None:
    with pytest.raises(DrawError) as info:
        draw_paper(BlueprintSpec(()), [], "x")
    assert info.value.code == "no_sections"
    with pytest.raises(DrawError) as info:
        draw_paper(SPEC, POOLS[:2], "x")
    assert info.value.code == "pools_mismatch"
    with pytest.raises(DrawError) as info:
        draw_paper(BlueprintSpec((SectionSpec("essay", 1, 1),)), [pool("single", [1])], "x")
    assert info.value.code == "unknown_type"
    with pytest.raises(DrawError) as info:
        draw_paper(BlueprintSpec((SectionSpec("single", 1, 1),)), [pool("multi", [1])], "x")
    assert info.value.code == "pool_type_mismatch"


def test_questions_are_uniform_over_positions() -> None:
    # 4 of 6 questions: each question at each position with probability 1/6.
    spec = BlueprintSpec((SectionSpec("single", 4, 1),))
    pools = [pool("single", range(1, 7))]
    draws = 3000
    seen: Counter = Counter()
    for n in range(draws):
        for item in draw_paper(spec, pools, f"u{n}").items:
            seen[(item.version_id, item.position)] += 1
    cells = list(itertools.product(range(1, 7), range(1, 5)))
    # 23 degrees of freedom: mean 23, sd 6.8; a biased draw lands in the thousands.
    assert chi_square(seen, cells, draws * 4) < 80


def test_option_orders_are_uniform_and_judge_options_never_move() -> None:
    spec = BlueprintSpec((SectionSpec("judge", 2, 1), SectionSpec("single", 2, 1)))
    pools = [pool("judge", range(1, 5)), pool("single", range(10, 15))]
    draws = 3000
    orders: Counter = Counter()
    for n in range(draws):
        paper = draw_paper(spec, pools, f"o{n}")
        for item in paper.items:
            if item.section_index == 0:
                assert item.option_order == ("T", "F")
            else:
                orders[item.option_order] += 1
    cells = list(itertools.permutations(FOUR))
    assert set(orders) == set(cells)
    assert chi_square(orders, cells, draws * 2) < 80


def test_options_keep_their_order_when_the_blueprint_says_so() -> None:
    spec = BlueprintSpec(SPEC.sections, shuffle_options=False)
    for n in range(50):
        for item in draw_paper(spec, POOLS, f"k{n}").items:
            assert item.option_order in (FOUR, ("T", "F"))


def test_the_same_seed_gives_the_same_paper_and_other_seeds_differ() -> None:
    first = draw_paper(SPEC, POOLS, "2026-06-01/room-3/seat-17")
    again = draw_paper(SPEC, [list(reversed(p)) for p in POOLS], "2026-06-01/room-3/seat-17")
    assert first == again  # pool order, as a database returns it, does not matter
    others = {tuple((i.version_id, i.option_order) for i in draw_paper(SPEC, POOLS, f"s{n}").items)
              for n in range(30)}
    assert len(others) == 30
    assert tuple((i.version_id, i.option_order) for i in first.items) not in others


def test_least_exposed_questions_are_drawn_first() -> None:
    spec = BlueprintSpec((SectionSpec("single", 3, 1),))
    pools = [pool("single", range(1, 11))]
    exposure = dict.fromkeys(range(1, 8), 2) | {8: 0, 9: 0, 10: 0}
    for n in range(100):
        assert set(draw_paper(spec, pools, f"e{n}", exposure).version_ids) == {8, 9, 10}


def test_the_next_exposure_level_is_sampled_uniformly() -> None:
    # Two never-used questions, then one more out of four used once, never the used-twice ones.
    spec = BlueprintSpec((SectionSpec("single", 3, 1),))
    pools = [pool("single", range(1, 9))]
    exposure = {1: 0, 2: 0, 3: 1, 4: 1, 5: 1, 6: 1, 7: 2, 8: 2}
    third: Counter = Counter()
    draws = 2000
    for n in range(draws):
        chosen = set(draw_paper(spec, pools, f"l{n}", exposure).version_ids)
        assert {1, 2} <= chosen
        assert not chosen & {7, 8}
        third.update(chosen - {1, 2})
    assert chi_square(third, [3, 4, 5, 6], draws) < 30


def test_neighbours_never_have_the_same_question_at_the_same_position() -> None:
    spec = BlueprintSpec((SectionSpec("judge", 6, 1), SectionSpec("single", 4, 1)))
    pools = [pool("judge", range(1, 9)), pool("single", range(20, 25))]
    for n in range(200):
        left = draw_paper(spec, pools, f"L{n}")
        front = draw_paper(spec, pools, f"F{n}")
        paper = draw_paper(spec, pools, f"M{n}", avoid=[left.version_ids, front.version_ids])
        assert paper.separated
        for mine, a, b in zip(paper.items, left.items, front.items, strict=True):
            assert mine.version_id not in (a.version_id, b.version_id)
        assert len(set(paper.version_ids)) == 10


def test_neighbours_apart_even_when_the_section_takes_the_whole_pool() -> None:
    # Only one arrangement of three questions avoids both neighbours: c, a, b.
    spec = BlueprintSpec((SectionSpec("judge", 3, 1),))
    pools = [pool("judge", [1, 2, 3])]
    for n in range(20):
        paper = draw_paper(spec, pools, f"w{n}", avoid=[[1, 2, 3], [2, 3, 1]])
        assert paper.version_ids == [3, 1, 2]
        assert paper.separated


def test_a_clash_is_redrawn_from_the_pool() -> None:
    spec = BlueprintSpec((SectionSpec("single", 1, 1),))
    for n in range(30):
        paper = draw_paper(spec, [pool("single", [1, 2])], f"r{n}", avoid=[[1]])
        assert paper.version_ids == [2]


def test_an_unavoidable_clash_is_drawn_anyway_and_reported() -> None:
    spec = BlueprintSpec((SectionSpec("judge", 2, 1), SectionSpec("single", 1, 1)))
    pools = [pool("judge", [1, 2]), pool("single", [5])]
    paper = draw_paper(spec, pools, "x", avoid=[[1, 2, 5], [2, 1, 5]])
    assert sorted(paper.version_ids[:2]) == [1, 2]
    assert paper.version_ids[2] == 5
    assert not paper.separated
    assert set(paper.neighbour_clashes) == {1, 2, 3}


def test_a_neighbour_paper_shorter_than_ours_is_fine() -> None:
    paper = draw_paper(SPEC, POOLS, "x", avoid=[[1, 2]])
    assert paper.version_ids[:2] != [1, 2] or paper.separated
    assert paper.version_ids[0] != 1
    assert paper.version_ids[1] != 2


def test_assignable_counts_each_question_once() -> None:
    assert assignable([2, 2], [[1, 2, 3], [3, 4]]) == [2, 2]
    assert assignable([2, 2], [[1, 2], [1, 2]]) == [2, 0]
    assert assignable([1, 1], [[1, 2], [1]]) == [1, 1]  # section 1 moves to question 2
    assert assignable([1, 1, 1], [[1, 2], [1], [2]]) == [1, 1, 0]


def test_analytic_distance() -> None:
    assert expected_common([70, 30], [700, 90]) == pytest.approx(7 + 10)
    assert expected_overlap([70, 30], [700, 90]) == pytest.approx(0.17)
    assert expected_same_position([70, 30], [700, 90]) == pytest.approx(0.1 + 1 / 3)
    assert expected_overlap([10], [10]) == pytest.approx(1.0)


def test_estimate_overlap_agrees_with_the_analytic_value() -> None:
    counts, sizes = [5, 3, 2], [20, 10, 5]
    estimate = estimate_overlap(SPEC, POOLS, 1500, "mc")
    assert estimate.trials == 1500
    assert estimate.common_fraction == pytest.approx(expected_overlap(counts, sizes), abs=0.02)
    assert estimate.common_questions == pytest.approx(expected_common(counts, sizes), abs=0.2)
    assert estimate.same_position == pytest.approx(expected_same_position(counts, sizes), abs=0.1)
    with pytest.raises(DrawError):
        estimate_overlap(SPEC, POOLS, 0, "mc")
