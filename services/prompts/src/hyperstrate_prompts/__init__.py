"""hyperstrate prompts.

Versioned prompt templates.
"""
