"""Team specs: a team in a YAML or TOML file, validated once, built into a :class:`GroupChat`.

Everything a user can configure about a team lives in :class:`TeamSpec`; the CLI and the
front-ends read it rather than repeat it. A bad file raises :class:`SpecError`, whose message
names the file, the field path, the line where it can be found, and what is wrong.

The schema is split by job, and this module gathers its names: the shared field types
(:mod:`groupchat.spec_fields`), participants (:mod:`groupchat.spec_participants`), selection
policies (:mod:`groupchat.spec_policies`), termination (:mod:`groupchat.spec_termination`),
the magentic manager (:mod:`groupchat.magentic.spec`), the team (:mod:`groupchat.spec_team`)
and reading files (:mod:`groupchat.spec_load`). Building a chat from a spec is
:mod:`groupchat.app.build`'s (``TeamSpec.build()`` calls it).
"""

from __future__ import annotations

from groupchat.magentic.spec import MagenticSpec
from groupchat.spec_fields import NO_IMPORTS, ModelCacheSpec
from groupchat.spec_load import SpecError, load_spec, parse_spec
from groupchat.spec_participants import HumanSpec, LLMSpec, ParticipantSpec, ScriptedSpec, ToolRef
from groupchat.spec_policies import (
    FunctionSpec,
    GraphSpec,
    HandoffSpec,
    LLMSelectorSpec,
    ManualSpec,
    MentionSpec,
    PolicySpec,
    RandomSpec,
    RoundRobinSpec,
)
from groupchat.spec_team import TeamSpec
from groupchat.spec_termination import TerminationSpec, TextMentionSpec

__all__ = [
    "NO_IMPORTS",
    "FunctionSpec",
    "GraphSpec",
    "HandoffSpec",
    "HumanSpec",
    "LLMSelectorSpec",
    "LLMSpec",
    "MagenticSpec",
    "ManualSpec",
    "MentionSpec",
    "ModelCacheSpec",
    "ParticipantSpec",
    "PolicySpec",
    "RandomSpec",
    "RoundRobinSpec",
    "ScriptedSpec",
    "SpecError",
    "TeamSpec",
    "TerminationSpec",
    "TextMentionSpec",
    "ToolRef",
    "load_spec",
    "parse_spec",
]
