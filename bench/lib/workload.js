'use strict';
// The benchmark workload: Debezium 3.x PostgreSQL change events for table public.customers
// (id int4, first_name, last_name, email), JsonConverter with schemas enabled, REPLICA IDENTITY FULL.
// The envelope and key are byte-for-byte the shape the local Debezium 3.7 connector emits
// (captured from dbserver1.public.customers); only ids, names, emails, positions and times vary.
//
// Generation is deterministic (seeded PRNG), so the harness can recompute the exact set of Redis keys
// the rules demand without reading Kafka back. The harness reuses a backlog topic that holds N events:
// any change to what is generated or encoded must bump TOPIC_VERSION in harness.js.

const TOPIC_PREFIX = 'dbserver1';

const ROW_SCHEMA_FIELDS =
  '[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":false,"field":"first_name"},' +
  '{"type":"string","optional":false,"field":"last_name"},{"type":"string","optional":false,"field":"email"}]';

const VALUE_SCHEMA =
  '{"type":"struct","fields":[' +
  `{"type":"struct","fields":${ROW_SCHEMA_FIELDS},"optional":true,"name":"${TOPIC_PREFIX}.public.customers.Value","field":"before"},` +
  `{"type":"struct","fields":${ROW_SCHEMA_FIELDS},"optional":true,"name":"${TOPIC_PREFIX}.public.customers.Value","field":"after"},` +
  '{"type":"struct","fields":[{"type":"string","optional":false,"field":"version"},{"type":"string","optional":false,"field":"connector"},' +
  '{"type":"string","optional":false,"field":"name"},{"type":"int64","optional":false,"field":"ts_ms"},' +
  '{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},"default":"false","field":"snapshot"},' +
  '{"type":"string","optional":false,"field":"db"},{"type":"string","optional":true,"field":"sequence"},' +
  '{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional":true,"field":"ts_ns"},' +
  '{"type":"string","optional":false,"field":"schema"},{"type":"string","optional":false,"field":"table"},' +
  '{"type":"int64","optional":true,"field":"txId"},{"type":"int64","optional":true,"field":"lsn"},' +
  '{"type":"int64","optional":true,"field":"xmin"},{"type":"string","optional":true,"field":"origin"},' +
  '{"type":"int64","optional":true,"field":"origin_lsn"}],"optional":false,"name":"io.debezium.connector.postgresql.Source","version":1,"field":"source"},' +
  '{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":false,"field":"total_order"},' +
  '{"type":"int64","optional":false,"field":"data_collection_order"}],"optional":true,"name":"event.block","version":1,"field":"transaction"},' +
  '{"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"},' +
  '{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional":true,"field":"ts_ns"}],' +
  `"optional":false,"name":"${TOPIC_PREFIX}.public.customers.Envelope","version":2}`;

const KEY_SCHEMA =
  '{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],' +
  `"optional":false,"name":"${TOPIC_PREFIX}.public.customers.Key"}`;

const FIRST_NAMES = ['Sally', 'George', 'Edward', 'Anne', 'Kenji', 'Amara', 'Lucia', 'Pavel', 'Ingrid', 'Tomás',
  'Zoë', 'Olu', 'Priya', 'Mateo', 'Hana', 'Björn'];
const LAST_NAMES = ['Thomas', 'Bailey', 'Walker', 'Kretchmar', 'Tanaka', 'Okafor', 'García', 'Novák', 'Lindqvist',
  'Müller', 'Dubois', 'Adeyemi', 'Sharma', 'Rossi', 'Kim', 'Nilsson'];

const PARTITIONS = 4;
const ID_SPACE = 100000;
// Op mix and the share of updates that change the email (and so touch a second email key).
const MIX = { update: 0.7, create: 0.2, delete: 0.1 };
const EMAIL_CHANGE_SHARE = 0.3;

function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const localParts = new Map();
function emailOf(first, last, id, version) {
  const name = `${first}.${last}`;
  let local = localParts.get(name);
  if (local === undefined) {
    local = name.toLowerCase().normalize('NFD').replace(/[^a-z.]/g, '');
    localParts.set(name, local);
  }
  return version === 0 ? `${local}.${id}@example.com` : `${local}.${id}+v${version}@example.com`;
}

// Yields {seq, id, op, partition, before, after} for `count` events. Ids are idBase+1 .. idBase+idSpace;
// every id starts as an existing row (version 0) so the first update/delete of an id carries a before image
// whose email appears in no earlier event: a consumer that ignores before images leaves those keys behind.
// uniqueIds: every event uses its own id (steady-load runs: one observable key per event).
function* generateEvents(count, { seed = 42, idSpace = ID_SPACE, idBase = 0, uniqueIds = false } = {}) {
  const random = mulberry32(seed);
  const rows = new Map(); // id -> {first, last, version}
  const rowOf = (id) => {
    let row = rows.get(id);
    if (!row) {
      row = { first: FIRST_NAMES[id % FIRST_NAMES.length], last: LAST_NAMES[(id >> 4) % LAST_NAMES.length], version: 0 };
      rows.set(id, row);
    }
    return row;
  };
  const image = (id, row) => ({ id, first_name: row.first, last_name: row.last, email: emailOf(row.first, row.last, id, row.version) });
  for (let seq = 0; seq < count; seq++) {
    const id = uniqueIds ? idBase + seq + 1 : idBase + 1 + Math.floor(random() * idSpace);
    const r = random();
    const row = rowOf(id);
    let op, before, after;
    if (r < MIX.update) {
      op = 'u';
      before = image(id, row);
      if (random() < EMAIL_CHANGE_SHARE) {
        row.version += 1;
      } else if (random() < 0.5) {
        row.last = LAST_NAMES[Math.floor(random() * LAST_NAMES.length)];
        if (row.last === before.last_name) row.first = FIRST_NAMES[Math.floor(random() * FIRST_NAMES.length)];
        // the email keeps its stored value even when the name changes
        after = { id, first_name: row.first, last_name: row.last, email: before.email };
      } else {
        row.first = FIRST_NAMES[Math.floor(random() * FIRST_NAMES.length)];
        after = { id, first_name: row.first, last_name: row.last, email: before.email };
      }
      if (!after) after = image(id, row);
      row.email = after.email;
    } else if (r < MIX.update + MIX.create) {
      // a (re)insert of the id with a fresh email
      op = 'c';
      row.version += 1;
      row.first = FIRST_NAMES[Math.floor(random() * FIRST_NAMES.length)];
      before = null;
      after = image(id, row);
      row.email = after.email;
    } else {
      op = 'd';
      before = row.email ? { id, first_name: row.first, last_name: row.last, email: row.email } : image(id, row);
      after = null;
      // the next event on this id starts from a new version
      row.version += 1;
      row.email = undefined;
    }
    if (op === 'u' && !row.email) row.email = after.email;
    yield { seq, id, op, partition: id % PARTITIONS, before, after };
  }
}

// The rules every contender applies: customer:{id} and customer:email:{email} over both images,
// deduplicated per event.
function keysOf(event) {
  const keys = [];
  for (const img of [event.before, event.after]) {
    if (!img) continue;
    const a = 'customer:' + img.id;
    const b = 'customer:email:' + img.email;
    if (keys.length === 0 || keys[0] !== a) keys.push(a);
    if (keys.length < 2 || keys[1] !== b) keys.push(b);
  }
  return keys;
}

const BASE_TS_MS = Date.UTC(2026, 0, 1);

// The payload part of the value (before/after/source/op/timestamps), as Debezium 3.x writes it.
function encodePayload(event, nowMs = BASE_TS_MS + event.seq) {
  const lsn = 26440408 + event.seq * 216;
  const txId = 734 + event.seq;
  const sourceTs = nowMs - 3;
  const payload =
    `{"before":${event.before ? JSON.stringify(event.before) : 'null'},` +
    `"after":${event.after ? JSON.stringify(event.after) : 'null'},` +
    `"source":{"version":"3.7.0.Final","connector":"postgresql","name":"${TOPIC_PREFIX}","ts_ms":${sourceTs},` +
    `"snapshot":"false","db":"inventory","sequence":"[\\"${lsn - 216}\\",\\"${lsn}\\"]",` +
    `"ts_us":${sourceTs}${String(event.seq % 1000).padStart(3, '0')},"ts_ns":${sourceTs}${String(event.seq % 1000).padStart(3, '0')}000,` +
    `"schema":"public","table":"customers","txId":${txId},"lsn":${lsn},"xmin":null,"origin":null,"origin_lsn":null},` +
    `"transaction":null,"op":"${event.op}","ts_ms":${nowMs},"ts_us":${nowMs}${String(event.seq % 1000).padStart(3, '0')},` +
    `"ts_ns":${nowMs}${String(event.seq % 1000).padStart(3, '0')}123}`;
  return payload;
}

// Encodes one event exactly as Debezium 3.x JsonConverter (schemas.enable=true) does.
function encode(event, nowMs) {
  return {
    key: `{"schema":${KEY_SCHEMA},"payload":{"id":${event.id}}}`,
    value: `{"schema":${VALUE_SCHEMA},"payload":${encodePayload(event, nowMs)}}`,
  };
}

// Expected effect of the first `count` events, optionally restricted to the events each partition
// processed (throughOffset[p] = last processed offset, -1 = none; offsets follow generation order).
function expectedEffect(count, opts = {}, throughOffset = null) {
  const distinct = new Set();
  let keyDeletes = 0;
  let events = 0;
  const nextOffset = new Array(PARTITIONS).fill(0);
  for (const ev of generateEvents(count, opts)) {
    const offset = nextOffset[ev.partition]++;
    if (throughOffset && offset > throughOffset[ev.partition]) continue;
    events++;
    const keys = keysOf(ev);
    keyDeletes += keys.length;
    for (const k of keys) distinct.add(k);
  }
  return { events, keyDeletes, distinct };
}

module.exports = { generateEvents, keysOf, encode, expectedEffect, PARTITIONS, ID_SPACE, MIX, EMAIL_CHANGE_SHARE, TOPIC_PREFIX };

// Same bytes as encode(), built faster for the producers: the constant schema parts are encoded once.
const VALUE_HEAD = Buffer.from(`{"schema":${VALUE_SCHEMA},"payload":`);
function encodeBuffers(event, nowMs) {
  const payload = encodePayload(event, nowMs);
  const value = Buffer.allocUnsafe(VALUE_HEAD.length + Buffer.byteLength(payload) + 1);
  VALUE_HEAD.copy(value, 0);
  const end = VALUE_HEAD.length + value.write(payload, VALUE_HEAD.length);
  value[end] = 0x7d; // '}'
  return {
    key: Buffer.from(`{"schema":${KEY_SCHEMA},"payload":{"id":${event.id}}}`, 'latin1'),
    value,
  };
}
module.exports.encodeBuffers = encodeBuffers;
