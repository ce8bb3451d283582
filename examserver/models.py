"""Import every model so that the metadata (and Alembic) sees all tables."""

from examserver.auth.models import Role, User
from examserver.delivery.models import Answer, Attempt, ServerClock
from examserver.papers.models import Blueprint, BlueprintSection, MultiScoring, Paper, PaperItem
from examserver.proctor.models import Incident, IncidentKind, RoomEvent, SessionStaff
from examserver.question_bank.models import (
    Bank,
    Media,
    Question,
    QuestionStatus,
    QuestionVersion,
    Topic,
)
from examserver.records.models import TrainingRecord, VerificationFailure
from examserver.sessions.models import Candidate, ExamKind, ExamSession, Registration, StartMode

__all__ = [
    "Incident",
    "IncidentKind",
    "RoomEvent",
    "SessionStaff",
    "Answer",
    "Attempt",
    "ServerClock",
    "TrainingRecord",
    "VerificationFailure",
    "Candidate",
    "ExamKind",
    "ExamSession",
    "Registration",
    "StartMode",
    "Bank",
    "Blueprint",
    "BlueprintSection",
    "Media",
    "MultiScoring",
    "Paper",
    "PaperItem",
    "Question",
    "QuestionStatus",
    "QuestionVersion",
    "Role",
    "Topic",
    "User",
]
