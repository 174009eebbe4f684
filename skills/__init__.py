"""The skill library: folders with a SKILL.md (agentskills.io format).

Built-in skills will ship here; `$HERMES_HOME/skills/` adds or overrides them. Workers see
only names and one-line descriptions until they ask for a skill's body.
"""
