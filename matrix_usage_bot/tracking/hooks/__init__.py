"""Hooks into agent runtimes. Each module imports its SDK only when it is imported itself.

- `tracking.hooks.openai.instrument_openai(client, tracker)`: OpenAI / AsyncOpenAI and OpenAI-compatible servers.
- `tracking.hooks.anthropic.instrument_anthropic(client, tracker)`: Anthropic / AsyncAnthropic.
- `tracking.hooks.litellm.UsageLogger(tracker)`: a LiteLLM callback.
- `tracking.hooks.langchain.UsageCallbackHandler(tracker)`: a LangChain callback handler.
- `tracking.hooks.agno.instrument_agno(agent_or_team, tracker)`: Agno agents and teams, members included.
- `tracking.hooks.mindroom.event_from_matrix(...)`: usage that MindRoom publishes in its Matrix messages.
"""
