"""Follow-up questions: does the conversation find what "it" refers to?

    python -m benchmarks.conversations --json             # history (no LLM) vs question alone
    python -m benchmarks.conversations --grid --split dev # choose the history weights on dev
    python -m benchmarks.conversations --condense llm     # the packaged LLM rewrites follow-ups

It writes a generated corpus (24 fictional companies, a profile and an annual report each: 48
Markdown files that all say "headquartered", "chief executive", "revenue"), then asks
conversations whose follow-ups cannot be answered alone ("Who runs it?", "And what was its
revenue in 2023?", "When was it founded?" after switching company). A follow-up is a hit when its
document is among the top 5 documents found. Companies 0-11 are the dev split, 12-23 the test.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from benchmarks.report import print_figures
from rag import RAG, Settings
from rag.answer.conversation import SEARCH_TURNS, SEARCH_WEIGHTS, SearchContext, history_context
from rag.prompts.chat_formats import Message
from rag.search.retrieve import search

COMPANIES = [
    "Norvex Robotics", "Quillfeather Labs", "Brightwater Foods", "Talmera Logistics",
    "Oskvik Shipping", "Peregrine Biotech", "Larchmont Textiles", "Venturi Aerospace",
    "Halcyon Insurance", "Marrowby Pharmaceuticals", "Cobaltline Mining", "Sableford Energy",
    "Ironbark Construction", "Windmere Media", "Pellucid Optics", "Trevanion Steel",
    "Glimmerhaus Games", "Ashgrove Paper", "Kestrel Semiconductors", "Dunmore Breweries",
    "Fennick Medical", "Orrery Software", "Calloway Batteries", "Mistral Telecom",
]  # fmt: skip
CITIES = ["Lyon", "Porto", "Gdansk", "Tampere", "Ghent", "Bilbao", "Graz", "Aarhus"]
FIRST = ["Ada", "Bruno", "Clara", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas"]
LAST = ["Moreau", "Silva", "Nowak", "Virtanen", "Peeters", "Etxeberria", "Huber", "Madsen"]
PRODUCTS = ["warehouse robots", "lab software", "frozen meals", "freight planning", "ferries"]
DEV_COMPANIES = 12


@dataclass(frozen=True)
class FollowUp:
    history: list[Message]
    question: str
    target: str  # the file that answers it
    split: str


def _facts(i: int) -> dict[str, Any]:
    return {
        "name": COMPANIES[i],
        "city": CITIES[i % len(CITIES)],
        "ceo": f"{FIRST[i % len(FIRST)]} {LAST[(i * 3) % len(LAST)]}",
        "founded": 1950 + (i * 7) % 70,
        "revenue": 120 + i * 37,
        "employees": 800 + i * 213,
        "product": PRODUCTS[i % len(PRODUCTS)],
    }


def _slug(name: str) -> str:
    return name.lower().replace(" ", "-")


def write_corpus(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(len(COMPANIES)):
        f = _facts(i)
        (folder / f"{_slug(f['name'])}-profile.md").write_text(
            f"# {f['name']}: company profile\n\n"
            f"{f['name']} is headquartered in {f['city']}. Its chief executive is {f['ceo']}, "
            f"who runs the company from the head office. The company was founded in "
            f"{f['founded']} and is best known for its {f['product']}.\n",
            encoding="utf-8",
        )
        (folder / f"{_slug(f['name'])}-report.md").write_text(
            f"# {f['name']}: annual report 2023\n\n"
            f"Revenue in 2023 was {f['revenue']} million euros. At the end of the year the "
            f"group employed {f['employees']} people. The board proposes a dividend.\n",
            encoding="utf-8",
        )


def follow_ups() -> list[FollowUp]:
    """Two follow-ups per company, and a switch of company before a third for every third."""
    asked: list[FollowUp] = []
    for i in range(len(COMPANIES)):
        f = _facts(i)
        split = "dev" if i < DEV_COMPANIES else "test"
        slug = _slug(f["name"])
        first: list[Message] = [
            {"role": "user", "content": f"Where is {f['name']} headquartered?"},
            {"role": "assistant", "content": f"{f['name']} is headquartered in {f['city']}."},
        ]
        asked.append(FollowUp(first, "Who runs it?", f"{slug}-profile.md", split))
        second: list[Message] = [
            *first,
            {"role": "user", "content": "Who runs it?"},
            {"role": "assistant", "content": f"Its chief executive is {f['ceo']}."},
        ]
        asked.append(
            FollowUp(second, "And what was its revenue in 2023?", f"{slug}-report.md", split)
        )
        if i % 3 == 0:
            other = _facts((i + 1) % len(COMPANIES) if split == "dev" else 12 + (i + 1) % 12)
            switched: list[Message] = [
                *first,
                {"role": "user", "content": f"What about {other['name']}?"},
                {"role": "assistant", "content": f"{other['name']} is in {other['city']}."},
            ]
            target = f"{_slug(other['name'])}-profile.md"
            asked.append(FollowUp(switched, "When was it founded?", target, split))
    return asked


def hit_rate(rag: RAG, asked: list[FollowUp], context: Any) -> dict[str, float]:
    """Shares of follow-ups whose document is first, and among the top 5 documents;
    `context(follow_up)` says what is searched."""
    collection = rag.collection("conversations")
    options = rag.search_options(5, group_by_document=True)
    first = top5 = 0
    for item in asked:
        searched: SearchContext = context(item)
        found = search(collection, rag.embedder, searched.query, options, None, searched.earlier())
        names = [Path(p.path).name for p in found]
        first += bool(names) and names[0] == item.target
        top5 += item.target in names
    count = max(len(asked), 1)
    return {"hit@1": round(first / count, 3), "hit@5": round(top5 / count, 3)}


def run(split: str, grid: bool, condense: Literal["auto", "history", "llm"]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rag-conversations-") as tmp:
        corpus = Path(tmp) / "companies"
        write_corpus(corpus)
        settings = Settings(home=Path(tmp) / "home", condense=condense)
        with RAG(settings=settings) as rag:
            rag.ingest([corpus], collection="conversations")
            chosen = [f for f in follow_ups() if split in ("all", f.split)]
            result: dict[str, Any] = {"split": split, "follow_ups": len(chosen)}
            alone = hit_rate(rag, chosen, lambda f: SearchContext(f.question))
            result |= {f"{k}_question_alone": v for k, v in alone.items()}
            if grid:
                for turns in (1, 2):
                    for weights in ((0.5, 0.25), (1.0, 0.5), (0.25, 0.125)):
                        rates = hit_rate(
                            rag,
                            chosen,
                            lambda f, t=turns, w=weights: history_context(
                                f.question, f.history, t, w
                            ),
                        )
                        label = f"history_{turns}_turns_{weights[0]}"
                        result |= {f"{k}_{label}": v for k, v in rates.items()}
                return result
            rates = hit_rate(rag, chosen, lambda f: rag.search_context(f.question, f.history))
            label = f"with_conversation_{rag.condense_mode}"
            result |= {f"{k}_{label}": v for k, v in rates.items()}
            result["search_turns"] = SEARCH_TURNS
            result["search_weights"] = list(SEARCH_WEIGHTS)
            return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=["dev", "test", "all"], default="all")
    parser.add_argument("--grid", action="store_true", help="Weights of the history (on dev).")
    parser.add_argument("--condense", choices=["auto", "history", "llm"], default="auto")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--list", action="store_true", help="Print the follow-ups and stop.")
    args = parser.parse_args()
    if args.list:
        for f in follow_ups():
            print(json.dumps({"history": f.history, "question": f.question, "target": f.target}))
        return
    condense = cast(Literal["auto", "history", "llm"], args.condense)
    print_figures(run(args.split, args.grid, condense), args.json)


if __name__ == "__main__":
    main()
