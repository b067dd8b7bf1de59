"""The attribute, span and metric names tracing uses: the OpenTelemetry GenAI semantic
conventions where they name a thing, ``groupchat.*`` for what is the chat's own.

Plain strings, so that importing them costs nothing and pulls in no OpenTelemetry.
"""

from __future__ import annotations

__all__ = [
    "AGENT_NAME",
    "CAPTURE_ENV",
    "CONVERSATION_ID",
    "ERROR_TYPE",
    "INPUT_TOKENS",
    "OPERATION",
    "OUTPUT_TOKENS",
    "REQUEST_MODEL",
    "SCOPE",
    "TOOL_CALL_ID",
    "TOOL_NAME",
]

SCOPE = "groupchat"
"""The instrumentation scope of every span and instrument."""

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""The conventions' switch for recording message content (``true`` to opt in)."""

# gen_ai.* (semantic conventions for generative AI)
OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
AGENT_NAME = "gen_ai.agent.name"
CONVERSATION_ID = "gen_ai.conversation.id"
REQUEST_MODEL = "gen_ai.request.model"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_RESULT = "gen_ai.tool.call.result"
OUTPUT_MESSAGES = "gen_ai.output.messages"
TOKEN_TYPE = "gen_ai.token.type"
ERROR_TYPE = "error.type"

# operation names
CHAT = "chat"
INVOKE_AGENT = "invoke_agent"
EXECUTE_TOOL = "execute_tool"
INVOKE_WORKFLOW = "invoke_workflow"

# the chat's own
TASK = "groupchat.task"
POLICY = "groupchat.policy"
STATUS = "groupchat.end.status"
REASON = "groupchat.end.reason"
MESSAGES = "groupchat.messages"
TURN = "groupchat.turn"
SPEAKER = "groupchat.speaker"
SELECT_REASON = "groupchat.selection.reason"
CANDIDATES = "groupchat.selection.candidates"
INTERRUPTED = "groupchat.interrupted"
OUTCOME = "groupchat.turn.outcome"
ATTEMPT = "groupchat.attempt"
ACCEPTED = "groupchat.attempt.accepted"
PROBLEM = "groupchat.attempt.problem"
BILLED_TO = "groupchat.billed_to"
PARTICIPANT = "groupchat.participant"
REQUEST = "groupchat.human.request"
ANSWERED = "groupchat.human.answered"
DECISION = "groupchat.review.decision"
WORKER = "groupchat.worker"

# metrics (the conventions' client metrics, and the chat's own)
TOKEN_USAGE = "gen_ai.client.token.usage"
OPERATION_DURATION = "gen_ai.client.operation.duration"
CHAT_MESSAGES = "groupchat.chat.messages"
HUMAN_WAIT = "groupchat.human.wait.duration"
