"""Registry: registered models, links, model aliases and the action history."""
