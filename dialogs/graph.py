"""The dialog as a diagram (Mermaid or Graphviz DOT), for a coordinator reviewing a protocol.

The edges are the FSM's own candidate structure: from a question, the dialog moves to the
nearest later question that applies.  A conditional question is one candidate (its
``when`` labels the edge); the first unconditional question ends the candidates, because
the dialog can never skip past it.  Drawing every FSM transition instead would bury the
diagram under edges no answer ever takes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from dialogs.machine import COMPLETE
from dialogs.protocol import Protocol


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    label: str | None  # the target's ``when``; None for an unconditional target


def edges(protocol: Protocol) -> Iterator[Edge]:
    order = protocol.order
    for i, source in enumerate(order):
        for target in order[i + 1 :]:
            when = protocol.question_by_id[target].when
            if when.strip() == "True":
                yield Edge(source, target, None)
                break
            yield Edge(source, target, when)
        else:
            yield Edge(source, COMPLETE, None)


def _node_ids(protocol: Protocol) -> dict[str, str]:
    """Prefixed ids: a question called ``end`` or ``graph`` must not break the syntax."""
    ids = {qid: f"q_{qid}" for qid in protocol.order}
    ids[COMPLETE] = "state_complete"
    return ids


def _mermaid_text(text: str) -> str:
    return (
        text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    )


def to_mermaid(protocol: Protocol, lang: str = "en") -> str:
    ids = _node_ids(protocol)
    lines = ["flowchart TD"]
    for q in protocol.ordered_questions:
        label = _mermaid_text(f"{q.id}: {q.label.get(lang)}")
        shape = f'(["{label}"])' if q.chat_only else f'["{label}"]'
        lines.append(f"    {ids[q.id]}{shape}")
    lines.append(f'    {ids[COMPLETE]}((("{COMPLETE}")))')
    for e in edges(protocol):
        arrow = f'-.->|"{_mermaid_text(e.label)}"|' if e.label else "-->"
        lines.append(f"    {ids[e.source]} {arrow} {ids[e.target]}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def to_dot(protocol: Protocol, lang: str = "en") -> str:
    lines = [
        f'digraph "{_dot_text(protocol.id)} v{protocol.version}" {{',
        "    rankdir=TB;",
        '    node [shape=box, fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
    ]
    for q in protocol.ordered_questions:
        label = _dot_text(f"{q.id}\n{q.label.get(lang)}")
        style = ", style=rounded" if q.chat_only else ""
        lines.append(f'    "{q.id}" [label="{label}"{style}];')
    lines.append(f'    "{COMPLETE}" [shape=doublecircle];')
    for e in edges(protocol):
        attrs = f' [label="{_dot_text(e.label)}", style=dashed]' if e.label else ""
        lines.append(f'    "{e.source}" -> "{e.target}"{attrs};')
    lines.append("}")
    return "\n".join(lines) + "\n"
