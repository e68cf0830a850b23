"""OpenAI's error shape, shared by Chat Completions, Embeddings and the Responses API."""

from __future__ import annotations

import uuid

from .accounts import Account
from .wire import SimResponse, json_response


class OpenAIError(Exception):
    def __init__(self, status: int, error_type: str, code: str | None, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.error_type, self.code, self.message, self.param = status, error_type, code, message, param


def invalid(message: str, param: str | None = None, code: str | None = "invalid_value") -> OpenAIError:
    """A 400 invalid_request_error naming the parameter at fault, as OpenAI words them."""
    return OpenAIError(400, "invalid_request_error", code, message, param)


def error_response(error: OpenAIError) -> SimResponse:
    payload = {"error": {"message": error.message, "type": error.error_type, "param": error.param, "code": error.code}}
    headers = {"x-request-id": f"req_{uuid.uuid4().hex}"}
    if error.status == 429:
        headers["retry-after"] = "1"
    return json_response(error.status, payload, headers)


def check_model_access(account: Account, model: str) -> None:
    if not account.may_use(model):
        # OpenAI does not tell "no such model" from "not for you".
        raise OpenAIError(
            404,
            "invalid_request_error",
            "model_not_found",
            f"The model `{model}` does not exist or you do not have access to it.",
        )
