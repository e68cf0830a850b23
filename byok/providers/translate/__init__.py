"""Pure translations between the APIs the data plane speaks (OpenAI Chat Completions, Anthropic Messages) and the
wire formats of each provider family (Bedrock Converse, Anthropic Messages, OpenAI pass-through).

No I/O and no state beyond a small per-stream translator object: each function takes a dict and returns a dict.
`RequestInvalid` is the caller's mistake (answered 400 in the endpoint's own error format).
"""


class RequestInvalid(ValueError):
    """The request cannot be expressed for this provider; the message says what to change."""

    def __init__(self, message: str, *, param: str = "") -> None:
        super().__init__(message)
        self.param = param
