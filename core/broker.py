"""Publishing tasks from a request."""

# One quick retry, then give up: the request that committed a change must not wait on a dead broker.
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
