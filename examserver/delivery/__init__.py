"""Exam delivery: attempts, the server's clock, answers saved at every click, submission."""
