'use strict';
// The invalidation rules as a JavaScript consumer would write them by hand: parse the Debezium
// envelope (schema + payload), match source public.customers, and collect customer:{id} and
// customer:email:{email} over the before and after images, deduplicated.
function keysForMessage(value) {
  if (!value) return null; // tombstone
  const envelope = JSON.parse(value.toString('utf8'));
  const payload = envelope.payload !== undefined && envelope.schema !== undefined ? envelope.payload : envelope;
  if (!payload || !payload.source || payload.source.schema !== 'public' || payload.source.table !== 'customers') return null;
  const keys = new Set();
  for (const row of [payload.before, payload.after]) {
    if (!row) continue;
    if (row.id !== undefined && row.id !== null) keys.add(`customer:${row.id}`);
    if (row.email !== undefined && row.email !== null) keys.add(`customer:email:${row.email}`);
  }
  return keys.size ? [...keys] : null;
}

module.exports = { keysForMessage };
