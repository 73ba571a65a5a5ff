from prompts_support import prompts_client, prompts_settings  # noqa: F401 - fixtures
