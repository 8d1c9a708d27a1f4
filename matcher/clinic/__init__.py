"""Running a practice: storage, staff and audit, placement, follow-up, oversight, privacy.

Imports :mod:`matcher.ranking` and :mod:`matcher.learning`; the web layer and the
CLI use the names re-exported here.
"""

from . import plots
from .accounts import (
    AUDIT_ACTIONS,
    ROLES,
    audit,
    audit_entries,
    authenticate,
    create_user,
    get_user,
    has_users,
    list_users,
    set_active,
)
from .followup import (
    ITEM_MAX,
    ITEM_MIN,
    LOW_SESSION_TOTAL,
    SECTIONS,
    WELLBEING_ITEMS,
    FeedbackError,
    alert_reasons,
    courses,
    field_name,
    not_on_track,
    record_feedback,
    sync_outcomes,
    validate_section,
)
from .intakes import Ranker, ranking_for, submit_intake
from .oversight import (
    Calibration,
    Caseload,
    MonthRate,
    caseloads,
    click_rate_by_month,
    current_calibration,
    waiting_days,
)
from .placement import (
    PlacementError,
    active_placement,
    assign,
    confirm_batch,
    end_placement,
    placements_of,
    propose_batch,
    request_rematch,
    waiting_queue,
)
from .privacy import delete_client, export_client, export_client_csv, held_about
from .retraining import training_set_from_store
from .store import Store, StoredIntake, upgrade_schema

__all__ = [
    "AUDIT_ACTIONS",
    "ITEM_MAX",
    "ITEM_MIN",
    "LOW_SESSION_TOTAL",
    "ROLES",
    "SECTIONS",
    "WELLBEING_ITEMS",
    "Calibration",
    "Caseload",
    "FeedbackError",
    "MonthRate",
    "PlacementError",
    "Ranker",
    "Store",
    "StoredIntake",
    "active_placement",
    "alert_reasons",
    "assign",
    "audit",
    "audit_entries",
    "authenticate",
    "caseloads",
    "click_rate_by_month",
    "confirm_batch",
    "courses",
    "create_user",
    "current_calibration",
    "delete_client",
    "end_placement",
    "export_client",
    "export_client_csv",
    "field_name",
    "get_user",
    "has_users",
    "held_about",
    "list_users",
    "not_on_track",
    "placements_of",
    "plots",
    "propose_batch",
    "ranking_for",
    "record_feedback",
    "request_rematch",
    "set_active",
    "submit_intake",
    "sync_outcomes",
    "training_set_from_store",
    "upgrade_schema",
    "validate_section",
    "waiting_days",
    "waiting_queue",
]
