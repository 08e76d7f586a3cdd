"""The bare SQL each operation needs at minimum, written by hand (`sqlalchemy.text`).

These are the baselines: the same queries the code sends (or fewer, where the code asks for more
than it needs), without the ORM, sessions or Core compilation. Datetime parameters are typed so
SQLite receives the same text format the models store; nothing else is converted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Integer, TextClause, bindparam, column, text

from bank.orm import UTCDateTime

_TIME = UTCDateTime()


def _sql(statement: str, *times: str, json: tuple[str, ...] = ()) -> TextClause:
    clause = text(statement)
    binds: list[Any] = [bindparam(name, type_=_TIME) for name in times]
    binds += [bindparam(name, type_=JSON()) for name in json]
    return clause.bindparams(*binds) if binds else clause


class BareSQL:
    """Hand-written statements for one dialect (`true` and row locks differ on SQLite)."""

    def __init__(self, dialect: str) -> None:
        postgresql = self.postgresql = dialect == "postgresql"
        true = "true" if postgresql else "1"
        for_no_key_update = " FOR NO KEY UPDATE" if postgresql else ""

        # -- the daily due-scan and the other scheduler scans --------------------------------------
        self.due_channels = _sql(
            f"SELECT id FROM channels WHERE daily_enabled IS {true} AND next_daily_at <= :now "
            "ORDER BY next_daily_at LIMIT :limit",
            "now",
        )
        self.due_reminders = _sql(
            "SELECT id, phase_index, phase_deadline FROM interviews WHERE status = 'running' "
            "AND phase_deadline <= :horizon AND thread_external_id IS NOT NULL "
            "ORDER BY phase_deadline",
            "horizon",
        )
        self.idle_mocks = _sql(
            "SELECT * FROM interviews WHERE status IN ('running', 'paused') "
            "AND last_activity_at < :idle_before",
            "idle_before",
        )
        self.results_due = _sql(  # window closed, final result not settled yet
            "SELECT id FROM interviews WHERE status = 'ended' AND results_final_at IS NULL "
            "AND ended_at <= :closed_before",
            "closed_before",
        )
        self.unposted_prompts = _sql(
            "SELECT * FROM daily_prompts WHERE posted_at IS NULL AND created_at <= :claimed_before",
            "claimed_before",
        )
        self.alembic_version = text("SELECT version_num FROM alembic_version")
        self.question_count = text("SELECT count(*) FROM questions")

        # -- question selection --------------------------------------------------------------------
        self.channel_history = text(
            "SELECT q.slug FROM questions q JOIN daily_prompts p ON p.question_id = q.id "
            "WHERE p.channel_id = :channel ORDER BY p.local_date"
        )
        self.active_questions = text(
            "SELECT q.slug, f.slug, q.level, q.tags FROM questions q "
            "JOIN families f ON q.family_id = f.id WHERE q.status = 'active'"
        )
        self.question_by_slug = text(
            "SELECT q.*, f.* FROM questions q JOIN families f ON f.id = q.family_id "
            "WHERE q.slug = :slug"
        )
        self.active_question_by_slug = text(
            "SELECT q.*, f.* FROM questions q JOIN families f ON f.id = q.family_id "
            "WHERE q.slug = :slug AND q.status = 'active'"
        )
        self.families = text("SELECT id, slug, name, aliases FROM families ORDER BY slug")
        self.practised = text(
            "SELECT q.slug, count(*) FROM questions q JOIN interviews i ON i.question_id = q.id "
            "WHERE i.candidate_id = :member GROUP BY q.slug"
        )

        # -- leaderboard: the index lookups on the running totals (scoring.leaderboard) ----------
        present = "JOIN members m ON m.id = t.member_id AND m.left_at IS NULL"
        in_bucket = "t.workspace_id = :workspace AND t.bucket = :bucket"
        self.totals_top = text(
            f"SELECT t.member_id, m.display_name, t.points FROM member_totals t {present}"
            f" WHERE {in_bucket} AND t.points >= coalesce((SELECT t.points FROM member_totals t"
            f" {present} WHERE {in_bucket} ORDER BY t.points DESC LIMIT 1 OFFSET :top - 1), 0)"
            " ORDER BY t.points DESC, m.display_name, m.id LIMIT :top"
        )
        self.totals_own = text(
            f"SELECT m.display_name, t.points FROM member_totals t {present}"
            f" WHERE {in_bucket} AND t.member_id = :member"
        )
        self.totals_ahead = text(  # more points, minus the departed among them, plus ties
            f"SELECT (SELECT count(*) FROM member_totals t WHERE {in_bucket}"
            " AND t.points > :points) - (SELECT count(*) FROM members m"
            " JOIN member_totals t ON t.member_id = m.id WHERE m.workspace_id = :workspace"
            f" AND m.left_at IS NOT NULL AND {in_bucket} AND t.points > :points)"
            f" + (SELECT count(*) FROM member_totals t {present} WHERE {in_bucket}"
            " AND t.points = :points AND (m.display_name < :name"
            " OR (m.display_name = :name AND m.id < :member)))"
        )
        # before issue 15: the ledger summed on every request (kept to measure the difference)
        window = (
            "SELECT rank, member_id, display_name, points FROM ("
            " SELECT row_number() OVER (ORDER BY s.points DESC, m.display_name, m.id) AS rank,"
            " s.member_id, m.display_name, s.points"
            " FROM (SELECT member_id, sum(points) AS points FROM points_ledger"
            " WHERE workspace_id = :workspace {since} GROUP BY member_id) s"
            " JOIN members m ON m.id = s.member_id) r"
            " WHERE rank <= :top OR member_id = :member ORDER BY rank"
        )
        self.standings_all = text(window.format(since=""))
        self.add_totals = text(
            "INSERT INTO member_totals (workspace_id, bucket, member_id, points)"
            " VALUES (:workspace, 'all', :member, :points), (:workspace, :month, :member, :points),"
            " (:workspace, :week, :member, :points) ON CONFLICT (workspace_id, bucket, member_id)"
            " DO UPDATE SET points = member_totals.points + excluded.points"
        )
        self.workspace_zone = text("SELECT * FROM workspaces WHERE id = :workspace")

        # -- progress (scoring.progress, from the stored results) -----------------------------
        self.member = text("SELECT * FROM members WHERE id = :member")
        history = (
            "SELECT i.number, r.ended_at, f.slug, r.criteria, r.overall FROM mock_results r"
            " JOIN interviews i ON i.id = r.interview_id JOIN questions q ON q.id = r.question_id"
            " JOIN families f ON f.id = q.family_id WHERE r.candidate_id = :member{chosen}"
            " ORDER BY r.ended_at, r.interview_id"
        )
        self.history_all = text(history.format(chosen=""))
        self._history = history
        self.history_span = text(
            "SELECT count(*) AS n, min(ended_at) AS earliest, max(ended_at) AS latest"
            " FROM mock_results WHERE candidate_id = :member"
        ).columns(column("n", Integer), column("earliest", _TIME), column("latest", _TIME))
        self.progress_totals = text(
            "SELECT f.slug, p.criterion, p.score_sum, p.scored FROM progress_totals p"
            " JOIN families f ON f.id = p.family_id WHERE p.candidate_id = :member"
            " AND p.scored > 0 ORDER BY f.slug, p.criterion"
        )
        # before issue 15: every vote of every mock
        self.mock_history = text(
            "SELECT i.id, i.number, i.ended_at, f.slug, v.scores, v.overall FROM interviews i"
            " JOIN votes v ON v.interview_id = i.id JOIN questions q ON q.id = i.question_id"
            " JOIN families f ON f.id = q.family_id"
            " WHERE i.candidate_id = :member AND i.status = 'ended' ORDER BY i.ended_at, i.id"
        )
        self.mocks_done = text(
            "SELECT count(*) FROM interviews WHERE candidate_id = :member AND status = 'ended'"
        )
        self.answer_count = text("SELECT count(*) FROM daily_answers WHERE member_id = :member")
        self.answered_days = text(
            "SELECT p.channel_id, p.local_date FROM daily_prompts p"
            " JOIN daily_answers a ON a.prompt_id = p.id WHERE a.member_id = :member"
        )
        self.channel_days = text("SELECT id, days FROM channels WHERE id = :channel")

        # -- votes ---------------------------------------------------------------------------------
        self.interview = text("SELECT * FROM interviews WHERE id = :interview")
        self.vote_exists = text(
            "SELECT id FROM votes WHERE interview_id = :interview AND voter_id = :voter"
        )
        self.upsert_vote = _sql(
            "INSERT INTO votes (interview_id, voter_id, scores, overall, signal, comment,"
            " created_at, updated_at)"
            " VALUES (:interview, :voter, :scores, :overall, :signal, :comment, :now, :now)"
            " ON CONFLICT (interview_id, voter_id) DO UPDATE SET scores = excluded.scores,"
            " overall = excluded.overall, signal = excluded.signal, comment = excluded.comment,"
            " updated_at = excluded.updated_at",
            "now",
            json=("scores",),
        )
        self.award = _sql(
            "INSERT INTO points_ledger (workspace_id, member_id, kind, reference, points,"
            " created_at) VALUES (:workspace, :member, :kind, :reference, :points, :now)"
            " ON CONFLICT (kind, reference, member_id) DO NOTHING RETURNING id",
            "now",
        )
        self.panel = text(
            "SELECT member_id FROM interview_participants WHERE interview_id = :interview"
        )
        self.voters = text("SELECT voter_id FROM votes WHERE interview_id = :interview")

        # -- starting a mock -----------------------------------------------------------------------
        self.first_delivery = _sql(
            "INSERT INTO processed_events (platform, event_id, processed_at)"
            " VALUES (:platform, :event, :now)"
            " ON CONFLICT (platform, event_id) DO NOTHING RETURNING id",
            "now",
        )
        self.insert_workspace = _sql(
            "INSERT INTO workspaces (platform, external_id, timezone, admin_ids,"
            " next_mock_number, created_at) VALUES (:platform, :external, 'UTC', :admins, 1, :now)"
            " ON CONFLICT (platform, external_id) DO NOTHING RETURNING id",
            "now",
            json=("admins",),
        )
        self.workspace = text(
            "SELECT * FROM workspaces WHERE platform = :platform AND external_id = :external"
        )
        self.insert_member = _sql(
            "INSERT INTO members (workspace_id, external_id, display_name, created_at)"
            " VALUES (:workspace, :external, :name, :now)"
            " ON CONFLICT (workspace_id, external_id) DO NOTHING RETURNING id",
            "now",
        )
        self.member_by_external = text(
            "SELECT * FROM members WHERE workspace_id = :workspace AND external_id = :external"
        )
        self.insert_channel = _sql(
            "INSERT INTO channels (workspace_id, external_id, daily_enabled, timezone, days,"
            f" created_at) VALUES (:workspace, :external, {'false' if postgresql else '0'},"
            " 'UTC', 'mon,tue,wed,thu,fri', :now)"
            " ON CONFLICT (workspace_id, external_id) DO NOTHING RETURNING id",
            "now",
        )
        self.channel = text(
            "SELECT * FROM channels WHERE workspace_id = :workspace AND external_id = :external"
        )
        self.live_mock = text(
            "SELECT id FROM interviews WHERE candidate_id = :member"
            " AND status IN ('running', 'paused') LIMIT 1"
        )
        self.lock_candidate = text(f"SELECT id FROM members WHERE id = :member{for_no_key_update}")
        self.next_number = text(
            "UPDATE workspaces SET next_mock_number = next_mock_number + 1 WHERE id = :workspace "
            "RETURNING next_mock_number"
        )
        self.insert_interview = _sql(
            "INSERT INTO interviews (workspace_id, number, channel_id, question_id, candidate_id,"
            " variant, status, phase_index, phase_deadline, started_at, last_activity_at)"
            " VALUES (:workspace, :number, :channel, :question, :member, 'standard', 'running', 0,"
            " :deadline, :now, :now) RETURNING id",
            "deadline",
            "now",
        )
        self.insert_phase = _sql(
            "INSERT INTO interview_phases (interview_id, phase_index, budget_seconds, started_at,"
            " paused_seconds) VALUES (:interview, 0, :budget, :now, 0)",
            "now",
        )
        self.insert_participant = _sql(
            "INSERT INTO interview_participants (interview_id, member_id, role, joined_at)"
            " VALUES (:interview, :member, 'interviewer', :now)",
            "now",
        )
        self.drawn = _sql(
            "UPDATE questions SET times_drawn = times_drawn + 1, updated_at = :now WHERE id = :id",
            "now",
        )
        self.set_thread = text(
            "UPDATE interviews SET thread_external_id = :thread WHERE id = :interview"
        )
        self.set_phase_message = text(
            "UPDATE interview_phases SET message_external_id = :message"
            " WHERE interview_id = :interview AND phase_index = 0"
        )

    def history_sample(self, points: int) -> TextClause:
        """The stored results nearest after `points` instants :t0…, and the latest one."""
        first_after = (
            "SELECT (SELECT interview_id FROM mock_results WHERE candidate_id = :member"
            " AND ended_at >= :t{k} ORDER BY ended_at, interview_id LIMIT 1)"
        )
        picks = " UNION ALL ".join(first_after.format(k=k) for k in range(points))
        latest = (
            "SELECT (SELECT interview_id FROM mock_results WHERE candidate_id = :member"
            " ORDER BY ended_at DESC, interview_id DESC LIMIT 1)"
        )
        chosen = f" AND r.interview_id IN ({picks} UNION ALL {latest})"
        return _sql(self._history.format(chosen=chosen), *(f"t{k}" for k in range(points)))
