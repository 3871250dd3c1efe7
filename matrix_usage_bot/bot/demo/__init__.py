"""`usage-bot demo`: a throwaway homeserver, a room, agents using the real OpenAI SDK, the bot answering."""
