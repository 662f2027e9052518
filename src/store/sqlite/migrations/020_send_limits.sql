-- Sending limits (email.limits, sms.limits), shared by every process on the store.
-- send_pacing: per resource and channel ("3:email"), the theoretical arrival time of the next send
-- (GCRA, in ms since the epoch, fractional: 1000/3 ms intervals add up exactly), and the relay
-- back-off in force (when it began and how long it is) after a 421 or 454.
CREATE TABLE send_pacing (
  key           TEXT PRIMARY KEY,
  tat           REAL NOT NULL,
  throttled_at  INTEGER,
  throttle_ms   INTEGER
);
-- send_slots: per_domain_connections as a semaphore of leases. A send holds slot n of its
-- resource's recipient domain ("3:email:example.com") until it is over; a holder that died frees its
-- slot when `until` passes.
CREATE TABLE send_slots (
  key     TEXT NOT NULL,
  slot    INTEGER NOT NULL,
  holder  TEXT NOT NULL,
  until   INTEGER NOT NULL,
  PRIMARY KEY (key, slot)
);
-- A message a limit held keeps the send slot it was given (ms since the epoch), so that it is held once
-- and sent at that slot when it comes back, rather than competing for a slot again each time.
ALTER TABLE messages ADD COLUMN send_slot_at REAL;
