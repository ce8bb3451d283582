"""Exam sessions (考试场次), candidates and their registrations."""
