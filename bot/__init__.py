"""mock-interviewer: graded mock interviews for Generative-AI roles (Discord bot and terminal)."""
