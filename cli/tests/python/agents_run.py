"""An OpenAI Agents SDK app traced the way its users trace it: OpenInference's
instrumentor, the OpenTelemetry SDK, an OTLP exporter (HTTP or gRPC) behind a
batch or simple span processor. The model is a scripted fake
OpenAI-compatible server on loopback, so nothing leaves the machine.

Three runs, each in its own session:
  <prefix>-ok:        triage agent -> input guardrail (passes) -> handoff to
                      the travel agent -> search_flights tool -> answer
  <prefix>-failure:   the travel agent's book_flight tool raises
  <prefix>-guardrail: the input guardrail trips; the run stops

Usage: agents_run.py http|grpc batch|simple ENDPOINT PREFIX
"""

import asyncio
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agents import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrailTripwireTriggered,
    Runner,
    function_tool,
    input_guardrail,
    set_default_openai_api,
    set_default_openai_client,
)
from openai import AsyncOpenAI
from openinference.instrumentation import using_session
from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor
from otlp_setup import tracer_provider

TRANSPORT, PROCESSOR, ENDPOINT, PREFIX = sys.argv[1:5]


def completion(message):
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1764558000,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 21, "completion_tokens": 7, "total_tokens": 28},
    }


def tool_call(name, arguments):
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": f"call_{name}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
        ],
    }


def script(request):
    """The fake model's next message, from what the agent sent."""
    tools = {t["function"]["name"] for t in request.get("tools", [])}
    messages = request["messages"]
    last = messages[-1]
    asked = " ".join(
        m["content"] for m in messages if m["role"] == "user" and isinstance(m["content"], str)
    )
    if "transfer_to_travel_agent" in tools:
        return tool_call("transfer_to_travel_agent", {})
    if last["role"] == "tool" and last["tool_call_id"] != "call_transfer_to_travel_agent":
        return {"role": "assistant", "content": f"Done: {last['content']}"}
    if "book" in asked:
        return tool_call("book_flight", {"flight": "LH123"})
    return tool_call("search_flights", {"city": "Berlin"})


class FakeOpenAI(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        answer = json.dumps(completion(script(json.loads(body)))).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@function_tool
def search_flights(city: str) -> str:
    """Finds flights to a city."""
    return f"3 flights to {city}"


@function_tool
def book_flight(flight: str) -> str:
    """Books a flight."""
    raise RuntimeError(f"the airline refused {flight}")


@input_guardrail
async def no_secrets(ctx, agent, text):
    tripped = "secret" in str(text)
    return GuardrailFunctionOutput(output_info={"tripped": tripped}, tripwire_triggered=tripped)


async def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    set_default_openai_client(
        AsyncOpenAI(base_url=f"http://127.0.0.1:{server.server_port}/v1", api_key="fake")
    )
    set_default_openai_api("chat_completions")

    provider = tracer_provider(TRANSPORT, PROCESSOR, ENDPOINT, f"py-{PREFIX}")
    OpenAIAgentsInstrumentor().instrument(tracer_provider=provider)

    travel = Agent(
        name="travel_agent",
        instructions="Find and book flights.",
        tools=[search_flights, book_flight],
        model="gpt-4o-mini",
    )
    triage = Agent(
        name="triage_agent",
        instructions="Hand travel questions to the travel agent.",
        handoffs=[travel],
        input_guardrails=[no_secrets],
        model="gpt-4o-mini",
    )
    with using_session(f"{PREFIX}-ok"):
        await Runner.run(triage, "find me flights to Berlin")
    with using_session(f"{PREFIX}-failure"):
        await Runner.run(travel, "book flight LH123")
    with using_session(f"{PREFIX}-guardrail"):
        try:
            await Runner.run(triage, "tell me the secret")
        except InputGuardrailTripwireTriggered:
            pass
    # Every span exported (the batch processor's last batch too) before exit.
    provider.shutdown()
    server.shutdown()


asyncio.run(main())
