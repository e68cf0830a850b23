"""The OpenAI Responses API for OpenAI accounts: `POST /openai/v1/responses`, `GET /openai/v1/responses/{id}`.

Input as a string or items (messages with input_text / input_image / input_file parts, function_call,
function_call_output, reasoning items, item references), `instructions`, function tools and `tool_choice`,
`text.format` (json_schema: an object fitting the schema; json_object), `reasoning` (effort, summary) on reasoning
models, `include: ["reasoning.encrypted_content"]` (reasoning items then carry a sealed copy of their content that
only this server can open, and that must come back unchanged), `max_output_tokens`, `previous_response_id` and
`store` (responses kept per account, in memory), `stream` (typed events with `sequence_number`).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from .accounts import Account
from .caching import CacheUsage
from .limits import openai_max_tokens_error
from .openai_errors import OpenAIError, check_model_access, invalid
from .thinking import thinking_text
from .wire import (
    Answer,
    SimResponse,
    SimulatorState,
    StreamAborted,
    Tool,
    answer,
    cache_log,
    conversation_prompt,
    count_tokens,
    json_response,
    sample_object,
    sse,
    sse_response,
    streamed_pieces,
)

REASONING_MODELS = re.compile(r"^(gpt-5|o[134])")
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
EFFORT_THOUGHTS = {"minimal": 1, "low": 1, "medium": 2, "high": 4, "xhigh": 8}  # how many times the model thinks
SUMMARIES = ("auto", "concise", "detailed")
MIN_OUTPUT_TOKENS = 16
STORED_RESPONSES_MAX = 10_000  # the oldest stored responses are forgotten past this many
_STORE_LOCK = threading.Lock()  # concurrent calls store and forget responses
ITEM_TYPES = ("message", "function_call", "function_call_output", "reasoning", "item_reference")
INPUT_PART_TYPES = ("input_text", "input_image", "input_file")
OUTPUT_PART_TYPES = ("output_text", "refusal")
INCLUDABLE = ("reasoning.encrypted_content", "message.output_text.logprobs", "message.input_image.image_url",
              "file_search_call.results", "web_search_call.results", "web_search_call.action.sources",
              "computer_call_output.output.image_url", "code_interpreter_call.outputs")
# Tools OpenAI runs itself: accepted, and never called by the simulated model.
HOSTED_TOOLS = ("web_search", "web_search_preview", "file_search", "code_interpreter", "computer_use_preview",
                "image_generation", "mcp", "local_shell", "shell", "apply_patch", "custom")


def _missing(param: str) -> OpenAIError:
    return invalid(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def _unsupported_value(value: Any, param: str, supported: tuple[str, ...]) -> OpenAIError:
    names = ", ".join(f"'{name}'" for name in supported)
    return invalid(f"Invalid value: '{value}'. Supported values are: {names}.", param)


# --- the request ----------------------------------------------------------------------------------------------------


def _input_items(given: Any, state: SimulatorState, account: Account) -> list[dict[str, Any]]:
    """The input items after OpenAI's checks; a string is one user message; item references are resolved."""
    if isinstance(given, str):
        return [{"type": "message", "role": "user", "content": given}]
    if not isinstance(given, list):
        raise invalid("Invalid type for 'input': expected one of a string or an array of input items.", "input",
                      "invalid_type")
    items = []
    for index, item in enumerate(given):
        where = f"input[{index}]"
        if not isinstance(item, dict):
            raise invalid(f"Invalid type for '{where}': expected an object.", where, "invalid_type")
        kind = item.get("type", "message" if "role" in item else None)
        if kind not in ITEM_TYPES:
            raise _unsupported_value(kind, f"{where}.type", ITEM_TYPES)
        if kind == "item_reference":
            stored = state.response_items.get(str(item.get("id")))
            if stored is None or stored[0] != account.name:
                raise _item_not_found(item.get("id"))
            item = stored[1]
        elif kind == "message":
            _check_message(item, where)
        elif kind == "function_call":
            for key in ("call_id", "name", "arguments"):
                if not isinstance(item.get(key), str):
                    raise _missing(f"{where}.{key}")
        elif kind == "function_call_output":
            if not isinstance(item.get("call_id"), str):
                raise _missing(f"{where}.call_id")
            if "output" not in item:
                raise _missing(f"{where}.output")
        items.append({**item, "type": kind})
    return items


def _check_message(item: dict[str, Any], where: str) -> None:
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise _unsupported_value(role, f"{where}.role", ("user", "assistant", "system", "developer"))
    content = item.get("content")
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise invalid(f"Invalid type for '{where}.content': expected one of a string or an array of content parts.",
                      f"{where}.content", "invalid_type")
    allowed = OUTPUT_PART_TYPES if role == "assistant" else INPUT_PART_TYPES
    for p_index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in allowed:
            raise _unsupported_value(kind, f"{where}.content[{p_index}].type", allowed)
        if kind == "input_image" and not (part.get("image_url") or part.get("file_id")):
            raise invalid("Missing required parameter: one of 'image_url' or 'file_id'.",
                          f"{where}.content[{p_index}]", "missing_required_parameter")
        if kind == "input_file" and not (part.get("file_id") or part.get("file_data") or part.get("file_url")):
            raise invalid("Missing required parameter: one of 'file_id', 'file_data' or 'file_url'.",
                          f"{where}.content[{p_index}]", "missing_required_parameter")


def _item_not_found(item_id: Any) -> OpenAIError:
    return OpenAIError(404, "invalid_request_error", None,
                       f"Item with id '{item_id}' not found. Items are not persisted when `store` is set to false. Try "
                       "again with `store` set to true, or remove this item from your input.", "input")


def _check_conversation(items: list[dict[str, Any]], state: SimulatorState, account: Account) -> None:
    """Reasoning items must come back as they were given (sealed content intact, or stored by id); every function
    call output must answer a call made earlier in the conversation."""
    calls: set[str] = set()
    for item in items:
        if item["type"] == "function_call":
            calls.add(item["call_id"])
        elif item["type"] == "function_call_output" and item["call_id"] not in calls:
            raise invalid(f"No tool call found for function call output with call_id {item['call_id']}.", "input",
                          None)
        elif item["type"] == "reasoning":
            if item.get("encrypted_content") is not None:
                if state.signer.unseal(item["encrypted_content"]) is None:
                    raise invalid(f"The encrypted content for item {item.get('id')} could not be verified.", None,
                                  "invalid_encrypted_content")
            else:
                stored = state.response_items.get(str(item.get("id")))
                if stored is None or stored[0] != account.name:
                    raise _item_not_found(item.get("id"))


def _as_chat_messages(items: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """System text and chat-shaped messages (what `conversation_prompt` reads) of the conversation's items."""
    system, messages = [], []
    for item in items:
        if item["type"] == "message":
            content = item["content"]
            blocks = [{"type": "text", "text": content}] if isinstance(content, str) else [
                {"type": "image"} if part["type"] == "input_image" else {"type": "text", "text": part.get("text", "")}
                for part in content]
            if item["role"] in ("system", "developer"):
                system.extend(block.get("text", "") for block in blocks)
            else:
                messages.append({"role": item["role"], "content": blocks})
        elif item["type"] == "function_call":
            messages.append({"role": "assistant", "content": ""})
        elif item["type"] == "function_call_output":
            output = item["output"]
            messages.append({"role": "tool", "content": output if isinstance(output, str) else json.dumps(output)})
    return " ".join(text for text in system if text), messages


def _tools(body: dict[str, Any]) -> tuple[Tool, ...]:
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise invalid("Invalid type for 'tools': expected an array.", "tools", "invalid_type")
    functions = []
    for index, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind == "function":
            if not isinstance(tool.get("name"), str) or not tool["name"]:
                raise _missing(f"tools[{index}].name")
            functions.append(Tool(name=tool["name"], description=str(tool.get("description") or ""),
                                  schema=tool.get("parameters") or {}))
        elif kind not in HOSTED_TOOLS:
            raise _unsupported_value(kind, f"tools[{index}].type", ("function", *HOSTED_TOOLS))
    return tuple(functions)


def _forced_tool(choice: Any, tools: tuple[Tool, ...]) -> tuple[tuple[Tool, ...], str | None]:
    if choice in (None, "auto"):
        return tools, None
    if choice == "none":
        return (), None
    if choice == "required":
        return tools, ""
    if isinstance(choice, dict) and choice.get("type") == "function":
        if choice.get("name") not in {tool.name for tool in tools}:
            raise invalid(f"Tool choice '{choice.get('name')}' not found in 'tools' parameter.", "tool_choice")
        return tools, str(choice["name"])
    raise invalid("Invalid value for 'tool_choice'.", "tool_choice")


def _text_format(body: dict[str, Any], conversation_text: str) -> dict[str, Any]:
    text = body.get("text") or {}
    fmt = text.get("format") if isinstance(text, dict) else None
    fmt = fmt or {"type": "text"}
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind not in ("text", "json_schema", "json_object"):
        raise _unsupported_value(kind, "text.format.type", ("text", "json_schema", "json_object"))
    if kind == "json_schema":
        if not fmt.get("name"):
            raise _missing("text.format.name")
        if not isinstance(fmt.get("schema"), dict):
            raise _missing("text.format.schema")
    if kind == "json_object" and "json" not in conversation_text.lower():
        raise invalid("Response input messages must contain the word 'json' in some form to use 'text.format' of "
                      "type 'json_object'.", "input", None)
    return fmt


def _reasoning(body: dict[str, Any], model: str) -> tuple[str | None, str | None]:
    """(effort, summary) for a reasoning model; a reasoning setting on another model is refused."""
    given = body.get("reasoning")
    reasoning = given if isinstance(given, dict) else {}
    if not REASONING_MODELS.match(model):
        for key in ("effort", "summary"):
            if reasoning.get(key) is not None:
                raise invalid(f"Unsupported parameter: 'reasoning.{key}' is not supported with this model.",
                              f"reasoning.{key}", "unsupported_parameter")
        return None, None
    effort = reasoning.get("effort") or "medium"
    if effort not in EFFORTS:
        raise _unsupported_value(effort, "reasoning.effort", EFFORTS)
    summary = reasoning.get("summary") or reasoning.get("generate_summary")
    if summary is not None and summary not in SUMMARIES:
        raise _unsupported_value(summary, "reasoning.summary", SUMMARIES)
    return effort, summary


def _max_output_tokens(body: dict[str, Any], model: str) -> int | None:
    value = body.get("max_output_tokens")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid("Invalid type for 'max_output_tokens': expected an integer.", "max_output_tokens", "invalid_type")
    if value < MIN_OUTPUT_TOKENS:
        raise invalid(f"Invalid 'max_output_tokens': integer below minimum value. Expected a value >= "
                      f"{MIN_OUTPUT_TOKENS}, but got {value} instead.", "max_output_tokens", "integer_below_min_value")
    refusal = openai_max_tokens_error("max_output_tokens", value, model)
    if refusal:
        raise invalid(refusal, "max_output_tokens")
    return value


# --- the response ---------------------------------------------------------------------------------------------------


def create_response(body: Any, state: SimulatorState, account: Account) -> SimResponse:
    if not isinstance(body, dict):
        raise OpenAIError(400, "invalid_request_error", None, "We could not parse the JSON body of your request.")
    model = body.get("model")
    if not model:
        raise _missing("model")
    if "input" not in body and not body.get("previous_response_id"):
        raise _missing("input")
    check_model_access(account, model)
    include = body.get("include") or []
    for index, value in enumerate(include if isinstance(include, list) else [include]):
        if value not in INCLUDABLE:
            raise _unsupported_value(value, f"include[{index}]", INCLUDABLE)
    previous_id = body.get("previous_response_id")
    history: list[dict[str, Any]] = []
    if previous_id is not None:
        stored = state.responses.get(str(previous_id))
        if stored is None or stored[0] != account.name:
            raise invalid(f"Previous response with id '{previous_id}' not found.", "previous_response_id",
                          "previous_response_not_found")
        history = stored[1]
    new_items = _input_items(body.get("input", []), state, account)
    conversation = history + new_items
    _check_conversation(conversation, state, account)
    system, messages = _as_chat_messages(conversation)
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise invalid("Invalid type for 'instructions': expected a string.", "instructions", "invalid_type")
    system = " ".join(text for text in (instructions, system) if text)
    tools, forced = _forced_tool(body.get("tool_choice"), _tools(body))
    prompt = conversation_prompt(messages, system=system, tools=tools, forced_tool=forced)
    fmt = _text_format(body, prompt.text)
    effort, summary = _reasoning(body, model)
    max_tokens = _max_output_tokens(body, model)
    thought = thinking_text(model, len(prompt.text.split())) if effort in EFFORT_THOUGHTS else None
    reasoning_tokens = count_tokens(thought) * EFFORT_THOUGHTS[effort] if thought else 0
    # Reasoning tokens use up max_output_tokens first, as on OpenAI.
    visible_limit = None if max_tokens is None else max(1, max_tokens - reasoning_tokens)
    reply = answer(provider="openai", model=model, prompt=prompt, max_tokens=visible_limit)
    if reply.tool_call is None and fmt["type"] != "text" and not reply.truncated:
        value = sample_object(fmt["schema"]) if fmt["type"] == "json_schema" else {"reply": reply.text}
        reply = replace(reply, text=json.dumps(value), output_tokens=count_tokens(json.dumps(value)))
    cached, written = state.prompt_cache.use_automatic(account=account.name, model=model, text=prompt.text)
    reply = replace(reply, cache=CacheUsage(read=cached, write_5m=written), thinking=thought,
                    reasoning_tokens=reasoning_tokens, output_tokens=reply.output_tokens + reasoning_tokens)
    response_id = f"resp_{uuid.uuid4().hex}"
    output = _output_items(reply, summary=summary, sealed="reasoning.encrypted_content" in include, state=state)
    response = _response_object(body, response_id, model, output, reply, fmt=fmt, effort=effort, summary=summary)
    if body.get("store", True) is not False:
        _store(state, account, response_id, conversation + output, response)
    headers = {"x-request-id": f"req_{uuid.uuid4().hex}"}
    if body.get("stream") is True:
        sent = sse_response(_events(account, response, reply), headers, account=account)
    else:
        sent = json_response(200, response, headers)
    sent.log.update(cache_log(reply))
    return sent


def get_response(state: SimulatorState, account: Account, response_id: str) -> SimResponse:
    stored = state.responses.get(response_id)
    if stored is None or stored[0] != account.name:
        raise OpenAIError(404, "invalid_request_error", None, f"Response with id '{response_id}' not found.")
    return json_response(200, stored[2], {"x-request-id": f"req_{uuid.uuid4().hex}"})


def _store(state: SimulatorState, account: Account, response_id: str, items: list[dict[str, Any]],
           response: dict[str, Any]) -> None:
    with _STORE_LOCK:
        while len(state.responses) >= STORED_RESPONSES_MAX:
            *_, forgotten = state.responses.pop(next(iter(state.responses)))
            for item in forgotten["output"]:
                state.response_items.pop(item["id"], None)
        state.responses[response_id] = (account.name, items, response)
        for item in response["output"]:
            state.response_items[item["id"]] = (account.name, item)


def _output_items(reply: Answer, *, summary: str | None, sealed: bool, state: SimulatorState) -> list[dict]:
    items: list[dict[str, Any]] = []
    if reply.thinking:
        reasoning: dict[str, Any] = {"id": f"rs_{uuid.uuid4().hex}", "type": "reasoning", "summary": [
            {"type": "summary_text", "text": reply.thinking}] if summary else []}
        if sealed:
            reasoning["encrypted_content"] = state.signer.seal(reply.thinking)
        items.append(reasoning)
    if reply.tool_call is not None:
        items.append({"id": f"fc_{uuid.uuid4().hex}", "type": "function_call", "status": "completed",
                      "arguments": reply.tool_call.arguments_json, "call_id": f"call_{uuid.uuid4().hex[:24]}",
                      "name": reply.tool_call.name})
    else:
        items.append({"id": f"msg_{uuid.uuid4().hex}", "type": "message", "status": "completed", "role": "assistant",
                      "content": [{"type": "output_text", "text": reply.text, "annotations": [], "logprobs": []}]})
    return items


def _response_object(body: dict[str, Any], response_id: str, model: str, output: list[dict], reply: Answer, *,
                     fmt: dict[str, Any], effort: str | None, summary: str | None) -> dict[str, Any]:
    usage = {
        "input_tokens": reply.input_tokens,
        "input_tokens_details": {"cached_tokens": reply.cache.read, "cache_write_tokens": reply.cache.write},
        "output_tokens": reply.output_tokens,
        "output_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
        "total_tokens": reply.input_tokens + reply.output_tokens,
    }
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": "incomplete" if reply.truncated else "completed",
        "background": False,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if reply.truncated else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": effort, "summary": summary},
        "service_tier": "default",
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": {"format": fmt, "verbosity": "medium"},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": usage,
        "user": None,
        "metadata": body.get("metadata") or {},
    }


def _events(account: Account, response: dict[str, Any], reply: Answer) -> Iterator[bytes]:
    """The typed stream: response.created, response.in_progress, each output item (added, its parts and deltas,
    done), then response.completed (response.incomplete when cut by max_output_tokens); every event carries its
    `sequence_number`. A "mid_stream_failure" account's stream drops after a few deltas."""
    sequence = iter(range(1_000_000))

    def event(kind: str, **fields: Any) -> bytes:
        return sse({"type": kind, "sequence_number": next(sequence), **fields}, kind)

    pending = response | {"status": "in_progress", "output": [], "usage": None, "incomplete_details": None}
    yield event("response.created", response=pending)
    yield event("response.in_progress", response=pending)
    pieces, fails = streamed_pieces(account, reply)
    for index, item in enumerate(response["output"]):
        if item["type"] == "reasoning":
            yield event("response.output_item.added", output_index=index, item=item | {"summary": []})
            for s_index, part in enumerate(item["summary"]):
                ids = {"item_id": item["id"], "output_index": index, "summary_index": s_index}
                yield event("response.reasoning_summary_part.added", **ids, part={"type": "summary_text", "text": ""})
                for piece in re.findall(r"\s*\S+", part["text"]):
                    yield event("response.reasoning_summary_text.delta", **ids, delta=piece)
                yield event("response.reasoning_summary_text.done", **ids, text=part["text"])
                yield event("response.reasoning_summary_part.done", **ids, part=part)
        elif item["type"] == "function_call":
            yield event("response.output_item.added", output_index=index,
                        item=item | {"arguments": "", "status": "in_progress"})
            for piece in pieces:
                yield event("response.function_call_arguments.delta", item_id=item["id"], output_index=index,
                            delta=piece)
            if fails:
                raise StreamAborted
            yield event("response.function_call_arguments.done", item_id=item["id"], output_index=index,
                        arguments=item["arguments"])
        else:
            part = item["content"][0]
            ids = {"item_id": item["id"], "output_index": index, "content_index": 0}
            yield event("response.output_item.added", output_index=index,
                        item=item | {"status": "in_progress", "content": []})
            yield event("response.content_part.added", **ids, part=part | {"text": ""})
            for piece in pieces:
                yield event("response.output_text.delta", **ids, delta=piece, logprobs=[])
            if fails:
                raise StreamAborted
            yield event("response.output_text.done", **ids, text=part["text"], logprobs=[])
            yield event("response.content_part.done", **ids, part=part)
        yield event("response.output_item.done", output_index=index, item=item)
    final = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
    yield event(final, response=response)
