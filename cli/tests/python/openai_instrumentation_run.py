"""A Python agent whose model calls are traced by the official OpenTelemetry
OpenAI instrumentation (opentelemetry-instrumentation-openai-v2, with the
latest GenAI conventions and message content on the spans), and whose agent
and tool spans the app writes itself by the GenAI conventions, exported over
OTLP. The model is a fake OpenAI-compatible server on loopback.

Two runs, each in its own conversation:
  <prefix>-ok:      agent planner -> chat -> tool get_weather -> chat
  <prefix>-failure: agent planner -> chat refused by the server (400)

Usage: openai_instrumentation_run.py http|grpc batch|simple ENDPOINT PREFIX
"""

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# As a user turns them on, before the instrumentation is loaded.
os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_ONLY"

from openai import BadRequestError, OpenAI  # noqa: E402
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor  # noqa: E402
from opentelemetry.trace import Status, StatusCode  # noqa: E402

from otlp_setup import tracer_provider  # noqa: E402

TRANSPORT, PROCESSOR, ENDPOINT, PREFIX = sys.argv[1:5]


class FakeOpenAI(BaseHTTPRequestHandler):
    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if "refuse" in json.dumps(request["messages"]):
            status = 400
            answer = {"error": {"message": "model overloaded", "type": "invalid_request_error"}}
        else:
            status = 200
            answer = {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 1764558000,
                "model": "gpt-4o-mini",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "Berlin, 21 degrees"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 21, "completion_tokens": 7, "total_tokens": 28},
            }
        body = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    provider = tracer_provider(TRANSPORT, PROCESSOR, ENDPOINT, f"py-{PREFIX}")
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    client = OpenAI(
        base_url=f"http://127.0.0.1:{server.server_port}/v1", api_key="fake", max_retries=0
    )
    tracer = provider.get_tracer("openai-instrumentation-test")

    def agent(conversation):
        return tracer.start_as_current_span(
            "invoke_agent planner",
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "planner",
                "gen_ai.conversation.id": conversation,
            },
        )

    def ask(text):
        return client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": text}]
        )

    with agent(f"{PREFIX}-ok"):
        ask("where should I fly this weekend?")
        with tracer.start_as_current_span(
            "execute_tool get_weather",
            attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"},
        ):
            pass
        ask("and the weather there?")
    with agent(f"{PREFIX}-failure") as span:
        try:
            ask("refuse this one")
        except BadRequestError as error:
            span.set_status(Status(StatusCode.ERROR, str(error)))
    # Every span exported (the batch processor's last batch too) before exit.
    provider.shutdown()
    server.shutdown()


main()
