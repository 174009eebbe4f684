"""What the agent is told: the system prompt (soul, board guidance, skill index) and the
card as the first user message (title, body, comments, its dependencies' results).

Kept short on purpose: the fixed part (system prompt and tool schemas) of the `default`
profile is measured by `bench/agent.py` against a budget of 2,000 tokens.
"""

from __future__ import annotations

from board import Card, CardDetail, Store
from profiles import Profile

DEPENDENCY_RESULT_CAP = 2000


def skill_index(profile: Profile) -> str:
    """The skills the model may load, listed for its prompt (if its tools include them)."""
    if "skills" not in profile.tools:
        return ""
    from hermes.paths import skills_dir
    from skills import index

    return index(skills_dir())


def system_prompt(profile: Profile, card: Card, skill_index: str) -> str:
    """The profile's soul, how to work a card here, and the skills that exist."""
    place = (
        f"a git worktree on branch {card.branch}; your changes are committed for you when "
        "you finish"
        if card.branch
        else "a scratch directory"
    )
    parts = [
        profile.soul.strip(),
        f"You work card {card.id} of a shared kanban board, in {place}. Use the tools to do "
        "the work inside that workspace (paths are relative to it). When you are done, reply "
        "without calling a tool: that reply becomes the card's result, so make it a short, "
        "concrete summary of what you did, how you checked it and what is left.",
    ]
    if "board" in profile.tools:
        parts.append(
            "board_add creates cards (children of this one) that run when their dependencies "
            "are done; board_comment leaves a note on this card; ask_human waits for a "
            "person's answer - use it only for decisions you cannot make yourself."
        )
    if "shell" in profile.tools:
        parts.append(
            "Risky shell commands (force pushes, deploys, deleting outside the "
            "workspace) wait for a human's approval or are refused."
        )
    if "skills" in profile.tools and skill_index:
        parts.append("Skills (read one with skill_view before following it):\n" + skill_index)
    return "\n\n".join(p for p in parts if p)


def card_prompt(detail: CardDetail, store: Store) -> str:
    """The card itself, with comments and what the cards it depends on produced."""
    card = detail.card
    lines = [f"# Card {card.id}: {card.title}", "", card.body.strip() or "(no body)"]
    comments = [e for e in detail.events if e.kind == "comment"]
    if comments:
        lines += ["", "## Comments"] + [f"- {e.actor}: {e.data.get('text', '')}" for e in comments]
    if card.depends_on:
        lines += ["", "## Results of the cards this one depends on"]
        for dep_id in card.depends_on:
            dep = store.card(dep_id)
            result = (dep.result or "(no result)").strip()
            if len(result) > DEPENDENCY_RESULT_CAP:
                result = result[:DEPENDENCY_RESULT_CAP] + " [...]"
            lines += [f"### Card {dep.id}: {dep.title} ({dep.status})", result]
    return "\n".join(lines)
