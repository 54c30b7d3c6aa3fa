-- Current leaves get their own table (queried by date for the Protime initial sync), each with the
-- change version of its latest event. They were a JSON array on the absence row.
CREATE TABLE leaves (
    tenant_id       text NOT NULL REFERENCES tenants (id),
    absence_number  bigint NOT NULL,
    leave_date      date NOT NULL,
    half            text NOT NULL CHECK (half IN ('AM', 'PM')),
    state           text NOT NULL CHECK (state IN ('pending', 'approved')),
    -- The leave as the domain describes it.
    leave           jsonb NOT NULL,
    -- Change version of the leave's latest event.
    change_version  bigint NOT NULL,
    PRIMARY KEY (tenant_id, absence_number, leave_date, half)
);
CREATE INDEX leaves_by_date ON leaves (tenant_id, leave_date, absence_number, half);

INSERT INTO leaves (tenant_id, absence_number, leave_date, half, state, leave, change_version)
SELECT a.tenant_id, a.number, (l.value -> 'key' ->> 'date')::date,
       upper(l.value -> 'key' ->> 'half'), lower(l.value ->> 'state'), l.value,
       COALESCE((SELECT max(e.change_version) FROM leave_events e
                 WHERE e.tenant_id = a.tenant_id AND e.absence_number = a.number
                   AND e.leave_key = a.number || '-' || to_char((l.value -> 'key' ->> 'date')::date, 'YYYYMMDD')
                                     || '-' || upper(l.value -> 'key' ->> 'half')), 0)
FROM absences a, jsonb_array_elements(a.leaves) AS l;

ALTER TABLE absences DROP COLUMN leaves;
