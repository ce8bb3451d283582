"""Blueprints (组卷规则) and the papers drawn from them."""
