"""Generated question banks for benchmarks and tests: valid workbooks of any size."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from examserver.question_bank.importing import LAYOUT_HEADERS
from examserver.question_bank.tabular import Sheet, write_csv, write_xlsx

_TOPICS = {
    "法律法规": ("安全生产法", "特种作业人员安全技术培训考核管理规定", "消防法"),
    "安全基础知识": ("危险源辨识", "个体防护", "安全标志"),
    "专业技术": ("焊接工艺", "气瓶使用", "电气安全", "通风与防毒"),
    "应急处置": ("火灾扑救", "触电急救", "中毒窒息救援"),
}
_SUBJECTS = ("焊工", "电工", "制冷工", "登高作业人员", "危化品操作工", "动火监护人", "安全员")
_ACTIONS = (
    "进入受限空间作业前", "开始动火作业前", "更换气瓶时", "发现电气线路破损时",
    "发生火灾初起时", "在高处作业时", "检修制冷系统时", "搬运危险化学品时",
)  # fmt: skip
_MEASURES = (
    "办理作业许可", "检测可燃气体浓度", "佩戴合格的劳动防护用品", "设置警戒区域",
    "切断电源并挂牌", "安排专人监护", "清除周围可燃物", "检查消防器材",
    "通风换气", "报告现场负责人", "擅自离开岗位", "凭经验直接操作",
)  # fmt: skip


def _topic(rng: random.Random) -> str:
    root = rng.choice(sorted(_TOPICS))
    return f"{root}/{rng.choice(_TOPICS[root])}"


def sample_rows(n: int, seed: int = 0) -> Iterator[list[Any]]:
    """Yield ``n`` valid rows of the import layout, mixed types, unique stems."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    for i in range(1, n + 1):
        subject = rng.choice(_SUBJECTS)
        action = rng.choice(_ACTIONS)
        kind = rng.choices(("判断", "单选", "多选"), weights=(5, 3, 2))[0]
        topic = _topic(rng)
        difficulty = rng.randint(1, 5)
        options = [""] * 8
        if kind == "判断":
            measure = rng.choice(_MEASURES)
            stem = f"第{i}题：{subject}{action}，应当{measure}。"
            answer = rng.choice(("对", "错", "√", "×"))
        else:
            count = rng.randint(4 if kind == "多选" else 3, 6)
            picked = rng.sample(_MEASURES, count)
            options[:count] = picked
            ask = "正确的是" if kind == "单选" else "中正确的有"
            stem = f"第{i}题：{subject}{action}，下列做法{ask}（　）。"
            letters = "ABCDEFGH"[:count]
            if kind == "单选":
                answer = rng.choice(letters)
            else:
                answer = "".join(sorted(rng.sample(letters, rng.randint(2, count))))
        explanation = f"参见{topic.split('/')[-1]}的有关规定。" if rng.random() < 0.3 else ""
        yield [kind, stem, *options, answer, topic, difficulty, explanation]


def generate_workbook(path: str | Path, n: int, seed: int = 0) -> Path:
    """Write a valid ``n``-question workbook (.xlsx) of mixed types with a topic tree."""
    path = Path(path)
    path.write_bytes(write_xlsx([Sheet("试题", LAYOUT_HEADERS, sample_rows(n, seed))]))
    return path


def generate_csv(path: str | Path, n: int, seed: int = 0, encoding: str = "utf-8") -> Path:
    """Write the same generated questions as CSV (UTF-8 with BOM, or GB18030)."""
    path = Path(path)
    path.write_bytes(write_csv(LAYOUT_HEADERS, sample_rows(n, seed), encoding))
    return path
