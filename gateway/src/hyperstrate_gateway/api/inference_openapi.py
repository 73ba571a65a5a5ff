"""The OpenAPI description of the gateway's own inference routes (served as plain ASGI, so
nothing generates it): the request and answer shapes callers need, not every provider field.
OpenAI and Anthropic wire types keep their own snake_case."""

from __future__ import annotations

from typing import Any, Literal

from hyperstrate_kit.openapi import BEARER_AUTH, BEARER_AUTH_SCHEME

__all__ = ["inference_openapi"]

JsonObject = dict[str, Any]
Api = Literal["openai", "anthropic"]

TAG = "inference"
_SECURITY: list[dict[str, list[str]]] = [{BEARER_AUTH: []}, {"ApiKeyHeader": []}]
_ROUTER_ID = {
    "name": "routerId",
    "in": "path",
    "required": True,
    "description": "The router's id or name.",
    "schema": {"type": "string", "minLength": 1},
}
_ERRORS: dict[int, str] = {
    400: "The body is not a JSON object (or not valid UTF-8), or a parameter is outside the "
    "provider's documented range: OpenAI's `param` names it, Anthropic's message starts with it.",
    401: "Missing, invalid, revoked or expired credentials.",
    403: "The key may not use this router, or the router is restricted to other teams.",
    404: "No enabled router of that id or name in the caller's organisation.",
    413: "The body is larger than 32 MiB.",
    429: "The key's, the router's or a budget's limit is reached; see `Retry-After`.",
    502: "The provider failed, or its answer broke the requested JSON schema, or the router "
    "stopped answering (no word for ROUTER_LIVENESS_TIMEOUT_SECS, 4 s: it may have reached "
    "the provider).",
    503: "The gateway is starting, no router is running (nothing was sent anywhere: safe to "
    "retry), or the router has no available target.",
    504: "The provider did not answer in time.",
}


def _ref(name: str) -> JsonObject:
    return {"$ref": f"#/components/schemas/{name}"}


def _error_responses(api: Api, statuses: tuple[int, ...]) -> JsonObject:
    schema = _ref("OpenAIError" if api == "openai" else "AnthropicError")
    responses: JsonObject = {}
    for status in statuses:
        response: JsonObject = {
            "description": _ERRORS[status],
            "content": {"application/json": {"schema": schema}},
        }
        if status == 429:
            response["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before retrying.",
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
        responses[str(status)] = response
    return responses


_INFER_ERRORS = (400, 401, 403, 404, 413, 429, 502, 503, 504)
_MODELS_ERRORS = (401, 503)


def _chat_operation(operation_id: str, summary: str, by_path: bool) -> JsonObject:
    model_note = " The router is the one in the path." if by_path else " `model` names the router."
    return {
        "tags": [TAG],
        "summary": summary,
        "description": "An OpenAI chat completion through a router; `stream: true` answers "
        "with server-sent events (`data: <ChatCompletionChunk>` lines, then `data: [DONE]`)."
        + model_note,
        "operationId": operation_id,
        "security": _SECURITY,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("ChatCompletionRequest")}},
        },
        "responses": {
            "200": {
                "description": "The completion, or its stream.",
                "content": {
                    "application/json": {"schema": _ref("ChatCompletion")},
                    "text/event-stream": {
                        "schema": {
                            "type": "string",
                            "description": "`data: <ChatCompletionChunk>` events, then "
                            "`data: [DONE]`.",
                        }
                    },
                },
            },
            **_error_responses("openai", _INFER_ERRORS),
        },
    }


def _messages_operation(operation_id: str, summary: str, by_path: bool) -> JsonObject:
    model_note = " The router is the one in the path." if by_path else " `model` names the router."
    return {
        "tags": [TAG],
        "summary": summary,
        "description": "An Anthropic Messages call through a router; `stream: true` answers "
        "with Anthropic's server-sent events (`message_start`, `content_block_delta`, ..., "
        "`message_stop`)." + model_note,
        "operationId": operation_id,
        "security": _SECURITY,
        "parameters": [
            {
                "name": "anthropic-version",
                "in": "header",
                "required": False,
                "description": "Accepted for SDK compatibility.",
                "schema": {"type": "string", "examples": ["2023-06-01"]},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("MessagesRequest")}},
        },
        "responses": {
            "200": {
                "description": "The message, or its stream.",
                "content": {
                    "application/json": {"schema": _ref("MessagesResponse")},
                    "text/event-stream": {
                        "schema": {
                            "type": "string",
                            "description": "Anthropic message stream events.",
                        }
                    },
                },
            },
            **_error_responses("anthropic", _INFER_ERRORS),
        },
    }


def _models_operation(operation_id: str, summary: str) -> JsonObject:
    return {
        "tags": [TAG],
        "summary": summary,
        "description": "The enabled routers the caller may use, as OpenAI models "
        "(`id` is the router's name, the `model` to send).",
        "operationId": operation_id,
        "security": _SECURITY,
        "responses": {
            "200": {
                "description": "The routers as models.",
                "content": {"application/json": {"schema": _ref("ModelList")}},
            },
            **_error_responses("openai", _MODELS_ERRORS),
        },
    }


def _with_router(operation: JsonObject) -> JsonObject:
    return {**operation, "parameters": [_ROUTER_ID, *operation.get("parameters", [])]}


def _paths() -> JsonObject:
    paths: JsonObject = {
        "/v1/chat/completions": {
            "post": _chat_operation("CreateChatCompletion", "Chat completion (OpenAI)", False)
        },
        "/v1/messages": {
            "post": _messages_operation("CreateMessage", "Messages (Anthropic)", False)
        },
        "/v1/models": {"get": _models_operation("ListModels", "List the routers as models")},
        "/router/{routerId}/infer": {
            "post": _with_router(
                _chat_operation("InferWithRouter", "Infer with a router (OpenAI body)", True)
            )
        },
    }
    # One router's OpenAI and Anthropic routes; under /proxy/router/{routerId} they also
    # answer without the /v1, so the prefix works as either SDK's base URL.
    for base, name, what in (
        ("/router/{routerId}", "Router", "a router"),
        ("/proxy/router/{routerId}", "Proxied", "a router, as an SDK base URL"),
    ):
        paths[f"{base}/v1/chat/completions"] = {
            "post": _with_router(
                _chat_operation(f"Create{name}ChatCompletion", f"Chat completion with {what}", True)
            )
        }
        paths[f"{base}/v1/messages"] = {
            "post": _with_router(
                _messages_operation(f"Create{name}Message", f"Messages with {what}", True)
            )
        }
        paths[f"{base}/v1/models"] = {
            "get": _with_router(_models_operation(f"List{name}Models", f"List models of {what}"))
        }
    return paths


def _schemas() -> JsonObject:
    string_or_parts = {
        "anyOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "object", "additionalProperties": True}},
            {"type": "null"},
        ]
    }
    return {
        "ChatMessage": {
            "type": "object",
            "required": ["role"],
            "properties": {
                "role": {"enum": ["system", "developer", "user", "assistant", "tool", "function"]},
                "content": {
                    **string_or_parts,
                    "description": "Text, or content parts (`text`, `image_url`, ...).",
                },
                "name": {"type": "string"},
                "tool_calls": {"type": "array", "items": _ref("ToolCall")},
                "tool_call_id": {"type": "string"},
            },
            "additionalProperties": True,
        },
        "ToolCall": {
            "type": "object",
            "required": ["id", "type", "function"],
            "properties": {
                "id": {"type": "string"},
                "type": {"const": "function"},
                "function": {
                    "type": "object",
                    "required": ["name", "arguments"],
                    "properties": {
                        "name": {"type": "string"},
                        "arguments": {"type": "string", "description": "JSON text."},
                    },
                },
            },
        },
        "Tool": {
            "type": "object",
            "required": ["type", "function"],
            "properties": {
                "type": {"const": "function"},
                "function": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "description": {"type": "string"},
                        "parameters": {"type": "object", "description": "A JSON Schema."},
                        "strict": {"type": "boolean"},
                    },
                },
            },
        },
        "ChatCompletionRequest": {
            "type": "object",
            "required": ["messages"],
            "properties": {
                "model": {
                    "type": "string",
                    "description": "The router's name or id. Required on `/v1/chat/completions`; "
                    "where the path names the router, that router is used.",
                    "examples": ["demo"],
                },
                "messages": {"type": "array", "minItems": 1, "items": _ref("ChatMessage")},
                "stream": {"type": "boolean", "default": False},
                "stream_options": {
                    "type": "object",
                    "properties": {"include_usage": {"type": "boolean"}},
                },
                "temperature": {"type": "number", "minimum": 0, "maximum": 2},
                "top_p": {"type": "number", "minimum": 0, "maximum": 1},
                "max_tokens": {"type": "integer", "minimum": 1},
                "max_completion_tokens": {"type": "integer", "minimum": 1},
                "n": {"type": "integer", "minimum": 1, "maximum": 128},
                "presence_penalty": {"type": "number", "minimum": -2, "maximum": 2},
                "frequency_penalty": {"type": "number", "minimum": -2, "maximum": 2},
                "top_logprobs": {"type": "integer", "minimum": 0, "maximum": 20},
                "logit_bias": {
                    "type": "object",
                    "additionalProperties": {"type": "number", "minimum": -100, "maximum": 100},
                },
                "stop": {
                    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
                },
                "tools": {"type": "array", "items": _ref("Tool")},
                "tool_choice": {"anyOf": [{"type": "string"}, {"type": "object"}]},
                "response_format": {
                    "type": "object",
                    "description": '`{"type": "json_object"}` or `{"type": "json_schema", '
                    '"json_schema": {...}}`.',
                },
                "user": {"type": "string"},
                "variables": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "Values for the router's linked prompt template (hyperstrate).",
                },
            },
            "additionalProperties": True,
        },
        "ChatCompletion": {
            "type": "object",
            "required": ["id", "object", "created", "model", "choices"],
            "properties": {
                "id": {"type": "string"},
                "object": {"const": "chat.completion"},
                "created": {"type": "integer"},
                "model": {"type": "string"},
                "choices": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "index": {"type": "integer"},
                            "message": _ref("ChatMessage"),
                            "finish_reason": {"type": ["string", "null"]},
                        },
                    },
                },
                "usage": _ref("CompletionUsage"),
            },
        },
        "ChatCompletionChunk": {
            "type": "object",
            "description": "One server-sent event of a streamed chat completion.",
            "required": ["id", "object", "created", "model", "choices"],
            "properties": {
                "id": {"type": "string"},
                "object": {"const": "chat.completion.chunk"},
                "created": {"type": "integer"},
                "model": {"type": "string"},
                "choices": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "index": {"type": "integer"},
                            "delta": {"type": "object", "additionalProperties": True},
                            "finish_reason": {"type": ["string", "null"]},
                        },
                    },
                },
                "usage": {"anyOf": [_ref("CompletionUsage"), {"type": "null"}]},
            },
        },
        "CompletionUsage": {
            "type": "object",
            "properties": {
                "prompt_tokens": {"type": "integer"},
                "completion_tokens": {"type": "integer"},
                "total_tokens": {"type": "integer"},
            },
        },
        "AnthropicMessage": {
            "type": "object",
            "required": ["role", "content"],
            "properties": {
                "role": {"enum": ["user", "assistant"]},
                "content": {
                    "anyOf": [
                        {"type": "string"},
                        {"type": "array", "items": _ref("AnthropicContentBlock")},
                    ]
                },
            },
        },
        "AnthropicContentBlock": {
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {
                    "type": "string",
                    "examples": ["text", "image", "tool_use", "tool_result"],
                },
                "text": {"type": "string"},
            },
            "additionalProperties": True,
        },
        "MessagesRequest": {
            "type": "object",
            "required": ["messages", "max_tokens"],
            "properties": {
                "model": {
                    "type": "string",
                    "description": "The router's name or id. Required on `/v1/messages`; "
                    "where the path names the router, that router is used.",
                    "examples": ["demo"],
                },
                "messages": {"type": "array", "minItems": 1, "items": _ref("AnthropicMessage")},
                "max_tokens": {"type": "integer", "minimum": 1},
                "system": {
                    "anyOf": [
                        {"type": "string"},
                        {"type": "array", "items": _ref("AnthropicContentBlock")},
                    ]
                },
                "stream": {"type": "boolean", "default": False},
                "temperature": {"type": "number", "minimum": 0, "maximum": 1},
                "top_p": {"type": "number", "minimum": 0, "maximum": 1},
                "top_k": {"type": "integer", "minimum": 0},
                "stop_sequences": {"type": "array", "items": {"type": "string"}},
                "tools": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "input_schema"],
                        "properties": {
                            "name": {"type": "string"},
                            "description": {"type": "string"},
                            "input_schema": {"type": "object"},
                        },
                    },
                },
                "tool_choice": {"type": "object"},
                "metadata": {"type": "object"},
            },
            "additionalProperties": True,
        },
        "MessagesResponse": {
            "type": "object",
            "required": ["id", "type", "role", "model", "content"],
            "properties": {
                "id": {"type": "string"},
                "type": {"const": "message"},
                "role": {"const": "assistant"},
                "model": {"type": "string"},
                "content": {"type": "array", "items": _ref("AnthropicContentBlock")},
                "stop_reason": {"type": ["string", "null"]},
                "stop_sequence": {"type": ["string", "null"]},
                "usage": {
                    "type": "object",
                    "properties": {
                        "input_tokens": {"type": "integer"},
                        "output_tokens": {"type": "integer"},
                    },
                },
            },
        },
        "ModelList": {
            "type": "object",
            "required": ["object", "data"],
            "properties": {
                "object": {"const": "list"},
                "data": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "object", "router_id"],
                        "properties": {
                            "id": {"type": "string", "description": "The router's name."},
                            "object": {"const": "model"},
                            "created": {"type": "integer"},
                            "owned_by": {"type": "string"},
                            "router_id": {"type": "string"},
                        },
                    },
                },
            },
        },
        "OpenAIError": {
            "type": "object",
            "description": "The error envelope of the OpenAI-compatible routes.",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["message", "type"],
                    "properties": {
                        "message": {"type": "string"},
                        "type": {"type": "string", "examples": ["authentication_error"]},
                        "param": {"type": ["string", "null"]},
                        "code": {"type": ["string", "null"]},
                    },
                }
            },
        },
        "AnthropicError": {
            "type": "object",
            "description": "The error envelope of the Anthropic-compatible routes.",
            "required": ["type", "error"],
            "properties": {
                "type": {"const": "error"},
                "error": {
                    "type": "object",
                    "required": ["type", "message"],
                    "properties": {
                        "type": {"type": "string", "examples": ["authentication_error"]},
                        "message": {"type": "string"},
                    },
                },
            },
        },
    }


def inference_openapi() -> JsonObject:
    """An OpenAPI 3.1 document of the inference routes, their auth schemes and error envelopes."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "hyperstrate inference", "version": "0.1.0"},
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                # The services' own scheme: the merged document then has one BearerAuth.
                BEARER_AUTH: dict(BEARER_AUTH_SCHEME),
                "ApiKeyHeader": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "x-api-key",
                    "description": "The same keys, as Anthropic clients send them.",
                },
            },
        },
        "tags": [
            {
                "name": TAG,
                "description": "OpenAI- and Anthropic-compatible inference through routers "
                "(answered by the gateway itself).",
            }
        ],
    }
