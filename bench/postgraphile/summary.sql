-- PostGraphile's computed columns for the learner's summary of a course: Course.summary(userId)
-- (Q1) and Enrollment.summary (Q3), with completionPercentage, completedLessons, totalLessons.
-- The bench applies this to its own database only (bench/peer.py), after the project's
-- migrations; gql_progress never reads these objects.
--
-- The rule is domain/summary.py's, as the floor writes it (bench/floor.py): the course's current
-- lessons; a course that marks no lesson as required counts every lesson; 100 only when all
-- are done, otherwise round(done / needed × 100, 2) capped at 99.99. (PostgreSQL's numeric
-- round breaks ties away from zero, Python's float round to even; the bench's 45 and 180
-- required lessons never give a tie, and the harness compares the answers anyway.)

CREATE TYPE course_progress_summary AS (
    completion_percentage float8,
    completed_lessons int,
    total_lessons int
);

CREATE FUNCTION progress_summary_of(course_id int, user_id int) RETURNS course_progress_summary
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN n.needed = 0 THEN 0
                WHEN n.done >= n.needed THEN 100
                ELSE least(99.99, round(n.done * 100.0 / n.needed, 2)) END::float8,
           k.completed::int,
           k.total::int
    FROM (
        SELECT count(*) AS total,
               count(*) FILTER (WHERE l.is_required) AS required,
               count(*) FILTER (WHERE p.completed) AS completed,
               count(*) FILTER (WHERE p.completed AND l.is_required) AS completed_required
        FROM lessons l
        LEFT JOIN lesson_progress p
               ON p.lesson_id = l.id AND p.user_id = progress_summary_of.user_id
        WHERE l.course_id = progress_summary_of.course_id AND l.removed_at IS NULL
    ) k
    CROSS JOIN LATERAL (
        SELECT CASE WHEN k.required > 0 THEN k.completed_required ELSE k.completed END AS done,
               CASE WHEN k.required > 0 THEN k.required ELSE k.total END AS needed
    ) n
$$;
-- A helper, not an API: keep it off PostGraphile's Query type.
COMMENT ON FUNCTION progress_summary_of(int, int) IS E'@behavior -queryField';

-- Computed columns: a function named <table>_<field> whose first argument is the table's row.
CREATE FUNCTION courses_summary(c courses, user_id int) RETURNS course_progress_summary
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT progress_summary_of(c.id, user_id) $$;

CREATE FUNCTION enrollments_summary(e enrollments) RETURNS course_progress_summary
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT progress_summary_of(e.course_id, e.user_id) $$;
