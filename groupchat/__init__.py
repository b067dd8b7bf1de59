"""groupchat: multi-agent conversations where LLM agents and people talk in one shared chat.

Names are loaded on first use, so ``import groupchat`` stays fast and pulls in no front-end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from groupchat._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # events and messages
    "ChatEnded": "groupchat.events",
    "ChatStarted": "groupchat.events",
    "ErrorEvent": "groupchat.events",
    "Event": "groupchat.events",
    "Handoff": "groupchat.events",
    "HumanInputRequested": "groupchat.events",
    "MessagePosted": "groupchat.events",
    "ParticipantInfo": "groupchat.events",
    "ParticipantJoined": "groupchat.events",
    "ParticipantLeft": "groupchat.events",
    "Paused": "groupchat.events",
    "PlanReview": "groupchat.events",
    "ProgressLedger": "groupchat.events",
    "Replan": "groupchat.events",
    "Resumed": "groupchat.events",
    "SelectorAttempt": "groupchat.events",
    "SpeakerSelected": "groupchat.events",
    "TaskLedger": "groupchat.events",
    "TextDelta": "groupchat.events",
    "ToolCall": "groupchat.events",
    "ToolResult": "groupchat.events",
    "TurnSkipped": "groupchat.events",
    "TurnStarted": "groupchat.events",
    "dump_event": "groupchat.events",
    "parse_event": "groupchat.events",
    "Message": "groupchat.messages",
    "ToolCallPart": "groupchat.messages",
    "ToolResultPart": "groupchat.messages",
    "Usage": "groupchat.messages",
    # bus
    "Bus": "groupchat.bus",
    "EventBus": "groupchat.bus",
    "Subscription": "groupchat.bus",
    "ChatClosedError": "groupchat.bus",
    "Timeline": "groupchat.timeline",
    # chats across machines (the redis extra, loaded when used)
    "RedisBus": "groupchat.distributed.redis_bus",
    "HostedParticipant": "groupchat.distributed.hosting",
    "Hosting": "groupchat.distributed.hosting",
    "Worker": "groupchat.distributed.worker",
    # participants
    "AwaitingInput": "groupchat.participant",
    "ChatView": "groupchat.participant",
    "EndChat": "groupchat.participant",
    "HandTo": "groupchat.participant",
    "Participant": "groupchat.participant",
    "Pass": "groupchat.participant",
    "Reply": "groupchat.participant",
    "InputChannel": "groupchat.channel",
    "HumanParticipant": "groupchat.agents",
    "LLMAgent": "groupchat.agents",
    "ScriptedAgent": "groupchat.agents",
    "Tool": "groupchat.agents",
    "tool": "groupchat.agents",
    # models
    "ChatModel": "groupchat.models",
    "ModelCache": "groupchat.models",
    "ModelError": "groupchat.models",
    "ScriptedModel": "groupchat.models",
    "resolve_model": "groupchat.models",
    # the manager
    "ChatResult": "groupchat.chat",
    "GroupChat": "groupchat.chat",
    "ManagerActions": "groupchat.chat",
    "MagenticManager": "groupchat.magentic",
    # selection
    "CandidateFilter": "groupchat.policies",
    "ChatComplete": "groupchat.policies",
    "FunctionPolicy": "groupchat.policies",
    "ManualPolicy": "groupchat.policies",
    "MentionPolicy": "groupchat.policies",
    "RandomPolicy": "groupchat.policies",
    "RoundRobinPolicy": "groupchat.policies",
    "Selection": "groupchat.policies",
    "SelectionError": "groupchat.policies",
    "SelectionPolicy": "groupchat.policies",
    "TransitionGraphPolicy": "groupchat.policies",
    "exclude_last_speaker": "groupchat.policies",
    "HandoffPolicy": "groupchat.handoff",
    "LLMSelectorPolicy": "groupchat.selector",
    # termination
    "ExternalStop": "groupchat.termination",
    "MaxMessages": "groupchat.termination",
    "SourceMatch": "groupchat.termination",
    "Termination": "groupchat.termination",
    "TextMention": "groupchat.termination",
    "Timeout": "groupchat.termination",
    "TokenBudget": "groupchat.termination",
    # team specs
    "SpecError": "groupchat.spec",
    "TeamSpec": "groupchat.spec",
    "load_spec": "groupchat.spec",
}

__all__ = [
    "AwaitingInput",
    "Bus",
    "CandidateFilter",
    "ChatClosedError",
    "ChatComplete",
    "ChatEnded",
    "ChatModel",
    "ChatResult",
    "ChatStarted",
    "ChatView",
    "EndChat",
    "ErrorEvent",
    "Event",
    "EventBus",
    "ExternalStop",
    "FunctionPolicy",
    "GroupChat",
    "HandTo",
    "Handoff",
    "HandoffPolicy",
    "HostedParticipant",
    "Hosting",
    "HumanInputRequested",
    "HumanParticipant",
    "InputChannel",
    "LLMAgent",
    "LLMSelectorPolicy",
    "MagenticManager",
    "ManagerActions",
    "ManualPolicy",
    "MaxMessages",
    "MentionPolicy",
    "Message",
    "MessagePosted",
    "ModelCache",
    "ModelError",
    "Participant",
    "ParticipantInfo",
    "ParticipantJoined",
    "ParticipantLeft",
    "Pass",
    "Paused",
    "PlanReview",
    "ProgressLedger",
    "RandomPolicy",
    "RedisBus",
    "Replan",
    "Reply",
    "Resumed",
    "RoundRobinPolicy",
    "ScriptedAgent",
    "ScriptedModel",
    "Selection",
    "SelectionError",
    "SelectionPolicy",
    "SelectorAttempt",
    "SourceMatch",
    "SpeakerSelected",
    "SpecError",
    "Subscription",
    "TaskLedger",
    "TeamSpec",
    "Termination",
    "TextDelta",
    "TextMention",
    "Timeline",
    "Timeout",
    "TokenBudget",
    "Tool",
    "ToolCall",
    "ToolCallPart",
    "ToolResult",
    "ToolResultPart",
    "TransitionGraphPolicy",
    "TurnSkipped",
    "TurnStarted",
    "Usage",
    "Worker",
    "__version__",
    "dump_event",
    "exclude_last_speaker",
    "load_spec",
    "parse_event",
    "resolve_model",
    "tool",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__, globals())


if TYPE_CHECKING:
    from groupchat.agents import HumanParticipant, LLMAgent, ScriptedAgent, Tool, tool
    from groupchat.bus import Bus, ChatClosedError, EventBus, Subscription
    from groupchat.channel import InputChannel
    from groupchat.chat import ChatResult, GroupChat, ManagerActions
    from groupchat.distributed.hosting import HostedParticipant, Hosting
    from groupchat.distributed.redis_bus import RedisBus
    from groupchat.distributed.worker import Worker
    from groupchat.events import (
        ChatEnded,
        ChatStarted,
        ErrorEvent,
        Event,
        Handoff,
        HumanInputRequested,
        MessagePosted,
        ParticipantInfo,
        ParticipantJoined,
        ParticipantLeft,
        Paused,
        PlanReview,
        ProgressLedger,
        Replan,
        Resumed,
        SelectorAttempt,
        SpeakerSelected,
        TaskLedger,
        TextDelta,
        ToolCall,
        ToolResult,
        TurnSkipped,
        TurnStarted,
        dump_event,
        parse_event,
    )
    from groupchat.handoff import HandoffPolicy
    from groupchat.magentic import MagenticManager
    from groupchat.messages import Message, ToolCallPart, ToolResultPart, Usage
    from groupchat.models import ChatModel, ModelCache, ModelError, ScriptedModel, resolve_model
    from groupchat.participant import (
        AwaitingInput,
        ChatView,
        EndChat,
        HandTo,
        Participant,
        Pass,
        Reply,
    )
    from groupchat.policies import (
        CandidateFilter,
        ChatComplete,
        FunctionPolicy,
        ManualPolicy,
        MentionPolicy,
        RandomPolicy,
        RoundRobinPolicy,
        Selection,
        SelectionError,
        SelectionPolicy,
        TransitionGraphPolicy,
        exclude_last_speaker,
    )
    from groupchat.selector import LLMSelectorPolicy
    from groupchat.spec import SpecError, TeamSpec, load_spec
    from groupchat.termination import (
        ExternalStop,
        MaxMessages,
        SourceMatch,
        Termination,
        TextMention,
        Timeout,
        TokenBudget,
    )
