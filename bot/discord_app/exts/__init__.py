"""Bot extensions, loaded by `InterviewBot.setup_hook`: each package defines `async def setup(bot)`."""
