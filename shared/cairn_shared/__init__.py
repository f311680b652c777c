"""Cairn's common library: what every service shares and nothing any one service owns."""
