"""The policy lab: synthetic societies and what a rulebook does to them."""
