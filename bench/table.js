#!/usr/bin/env node
// Log-backed tables, side by side in one run, on the local broker:
//   - time to ready for N records (12 partitions): kcat's raw consume of the same topic (the floor),
//     cdc-cache createTable(), and a KafkaJS consumer filling a Map (what people write today);
//   - RSS per record of each Node contender (each in its own fresh process);
//   - get() of hot keys on the loaded table against a plain JS Map lookup, and first get()s of keys
//     never read (a lookup in the native store and a JSON.parse);
//   - the event-loop delay while the table loads, and how long get() calls take while the table
//     thread writes the store (a second load, probed with lookups every 2 ms).
// Usage: node bench/table.js [--records 1000000]  (needs npm run build and the local infrastructure)
// Writes bench/results/table.md and prints the same figures.
'use strict';

const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const BROKERS = process.env.KAFKA_BROKERS || '127.0.0.1:19092';
const PARTITIONS = 12;

function argument(name, fallback) {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : fallback;
}

// ------------------------------------------------------------------ children (one contender each)

async function childTable(topic, records) {
  const { monitorEventLoopDelay } = require('perf_hooks');
  const { createTable } = require(path.join(ROOT, 'dist', 'lib'));
  // The loop delay of this idle process first: on a shared machine the scheduler alone delays it.
  const idle = monitorEventLoopDelay({ resolution: 1 });
  idle.enable();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  idle.disable();
  const rssBefore = process.memoryUsage().rss;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const started = process.hrtime.bigint();
  const table = createTable({ kafka: { brokers: BROKERS, topic }, maxBytes: 4 * 1024 ** 3, logger: quiet() });
  await table.ready({ timeoutMs: 600_000 });
  const readyMs = Number(process.hrtime.bigint() - started) / 1e6;
  delay.disable();
  if (table.size !== records) throw new Error(`table holds ${table.size} entries, expected ${records}`);
  global.gc?.();
  const rss = process.memoryUsage().rss;

  // Hot keys: 1,000 keys looked up over and over (after their first get(), which parses the JSON),
  // against two plain Maps: one holding the same 1M entries under keys built apart from the lookup
  // keys (what a KafkaJS consumer filling a Map holds), and one of just the 1,000 hot keys under the
  // very lookup strings (the best case a Map can have: small, and keys equal by identity).
  const hot = Array.from({ length: 1000 }, (_, i) => `k${(i * 997) % records}`);
  // First get()s: 100,000 keys nobody read yet (none of them hot).
  const cold = Array.from({ length: 100_000 }, (_, i) => `k${(i * 7 + 13) % records}`).filter((k) => !hot.includes(k));
  const coldStarted = process.hrtime.bigint();
  for (const key of cold) if (table.get(key) === undefined) throw new Error(`${key} missing`);
  const coldGets = cold.length / (Number(process.hrtime.bigint() - coldStarted) / 1e9);
  const map = new Map();
  for (const key of hot) map.set(key, table.get(key));
  const fullMap = new Map();
  for (let i = 0; i < records; i++) fullMap.set(['k', i].join(''), { id: i });
  global.gc?.(); // not during the measurements
  const rounds = 5000; // 5,000,000 gets
  const measure = (get) => {
    let found = 0;
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < rounds; r++) for (let i = 0; i < hot.length; i++) if (get(hot[i]) !== undefined) found++;
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (found !== rounds * hot.length) throw new Error('a hot key was missing');
    return (rounds * hot.length) / seconds;
  };
  measure((k) => table.get(k)); // warm up all three
  measure((k) => map.get(k));
  measure((k) => fullMap.get(k));
  const tableGets = measure((k) => table.get(k));
  const mapGets = measure((k) => map.get(k));
  const fullMapGets = measure((k) => fullMap.get(k));
  await table.close();
  return {
    readyMs,
    rssPerRecord: (rss - rssBefore) / records,
    rssMb: rss / 1048576,
    loopDelayMs: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
    idleLoopDelayMs: { p50: idle.percentile(50) / 1e6, p99: idle.percentile(99) / 1e6, max: idle.max / 1e6 },
    tableGets,
    mapGets,
    fullMapGets,
    coldGets,
    coldCount: cold.length,
  };
}

// A second load, with 200 get()s of random keys every 2 ms while the table thread writes the store:
// each call timed (a get() of a key not read before takes the store's lock, which a write holds
// for one record). The control: a plain Map.get() timed the same way in the same loop, which
// waits for nobody: what it shows is this process waiting for a core.
async function childTableProbed(topic, records) {
  const { createTable } = require(path.join(ROOT, 'dist', 'lib'));
  const table = createTable({ kafka: { brokers: BROKERS, topic }, maxBytes: 4 * 1024 ** 3, logger: quiet() });
  const times = [];
  const storeTimes = [];
  const controlTimes = [];
  const store = table.native; // the lookup under the store's lock alone (no JSON.parse, no Map of copies)
  const control = new Map([['k1', { id: 1 }]]);
  const summary = (list) => {
    list.sort((a, b) => a - b);
    const at = (q) => list[Math.min(list.length - 1, Math.floor(q * list.length))];
    return { p50Us: at(0.5), p99Us: at(0.99), p999Us: at(0.999), maxUs: list[list.length - 1] };
  };
  const probe = setInterval(() => {
    for (let i = 0; i < 200; i++) {
      const key = `k${Math.floor(Math.random() * records)}`;
      const t0 = process.hrtime.bigint();
      table.get(key);
      const t1 = process.hrtime.bigint();
      control.get('k1');
      const t2 = process.hrtime.bigint();
      store.read(`k${Math.floor(Math.random() * records)}`);
      storeTimes.push(Number(process.hrtime.bigint() - t2) / 1000);
      controlTimes.push(Number(t2 - t1) / 1000);
      times.push(Number(t1 - t0) / 1000);
    }
  }, 2);
  const started = process.hrtime.bigint();
  await table.ready({ timeoutMs: 600_000 });
  const readyMs = Number(process.hrtime.bigint() - started) / 1e6;
  clearInterval(probe);
  // The same store lookups once loaded, with nobody writing: the reference for the ones above.
  const idleTimes = [];
  for (let round = 0; round < 500; round++) {
    for (let i = 0; i < 200; i++) {
      const key = `k${Math.floor(Math.random() * records)}`;
      const t0 = process.hrtime.bigint();
      store.read(key);
      idleTimes.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await table.close();
  return { readyMs, gets: times.length, ...summary(times), store: summary(storeTimes), idle: summary(idleTimes), control: summary(controlTimes) };
}

async function childKafkajs(topic, records) {
  const { Kafka, logLevel } = require('kafkajs');
  const rssBefore = process.memoryUsage().rss;
  const started = process.hrtime.bigint();
  const kafka = new Kafka({ clientId: 'bench-table', brokers: BROKERS.split(','), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `bench-table-${process.pid}-${Date.now()}`, maxBytesPerPartition: 4 << 20 });
  const map = new Map();
  let seen = 0;
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise((resolve, reject) => {
    consumer
      .run({
        eachBatch: async ({ batch }) => {
          for (const message of batch.messages) {
            const key = message.key.toString();
            if (message.value === null) map.delete(key);
            else map.set(key, JSON.parse(message.value.toString()));
          }
          seen += batch.messages.length;
          if (seen >= records) resolve();
        },
      })
      .catch(reject);
  });
  const readyMs = Number(process.hrtime.bigint() - started) / 1e6;
  global.gc?.();
  const rss = process.memoryUsage().rss;
  await consumer.disconnect();
  if (map.size !== records) throw new Error(`map holds ${map.size} entries, expected ${records}`);
  return { readyMs, rssPerRecord: (rss - rssBefore) / records, rssMb: rss / 1048576 };
}

function quiet() {
  const nothing = () => {};
  return { debug: nothing, info: nothing, warn: nothing, error: nothing };
}

// ------------------------------------------------------------------ parent

function runChild(kind, topic, records) {
  const result = spawnSync(process.execPath, ['--expose-gc', __filename, '--child', kind, topic, String(records)], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (result.status !== 0) throw new Error(`${kind} child failed: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop());
}

function kcatConsume(topic, records) {
  const started = process.hrtime.bigint();
  const out = execFileSync('kcat', ['-C', '-b', BROKERS, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%k\n', '-X', 'queued.min.messages=10000000'], {
    maxBuffer: 1 << 30,
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const lines = out.toString().split('\n').length - 1;
  if (lines !== records) throw new Error(`kcat read ${lines} records, expected ${records}`);
  return { readyMs: ms };
}

async function createTopic(topic, records) {
  const { Kafka, logLevel } = require('kafkajs');
  const admin = new Kafka({ brokers: BROKERS.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  await admin.disconnect();
  const file = path.join(os.tmpdir(), `${topic}.txt`);
  const lines = [];
  for (let i = 0; i < records; i++) lines.push(`k${i}\t${JSON.stringify({ id: i, name: `customer ${i}`, email: `c${i}@example.com`, tier: i % 3 })}`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  execFileSync('kcat', ['-P', '-b', BROKERS, '-t', topic, '-K', '\t', '-l', file, '-X', 'linger.ms=50', '-X', 'batch.num.messages=10000']);
  fs.unlinkSync(file);
}

async function deleteTopic(topic) {
  const { Kafka, logLevel } = require('kafkajs');
  const admin = new Kafka({ brokers: BROKERS.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.disconnect();
}

async function main() {
  const records = Number(argument('--records', '1000000'));
  const topic = `cdc-cache.bench.table.${Date.now().toString(36)}`;
  const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`bench/table: ${records} records, ${PARTITIONS} partitions, topic ${topic}; load average ${load()}`);
  await createTopic(topic, records);
  try {
    // The floor is kcat's fastest read of three (its time varies by half from one read to the next here).
    const kcatReads = [kcatConsume(topic, records), kcatConsume(topic, records), kcatConsume(topic, records)];
    const kcat = kcatReads.reduce((best, r) => (r.readyMs < best.readyMs ? r : best));
    const table = runChild('table', topic, records);
    const probed = runChild('table-probed', topic, records);
    const kafkajs = runChild('kafkajs', topic, records);
    const rate = (r) => records / (r.readyMs / 1000);
    const rows = [
      ['kcat raw consume (floor, fastest of 3 reads)', kcat.readyMs, rate(kcat), '-', '-'],
      ['cdc-cache createTable', table.readyMs, rate(table), table.rssPerRecord, table.rssMb],
      ['KafkaJS consumer filling a Map', kafkajs.readyMs, rate(kafkajs), kafkajs.rssPerRecord, kafkajs.rssMb],
    ];
    const fmt = (v, digits = 0) => (typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: digits }) : v);
    const lines = [
      `# Log-backed table benchmark`,
      '',
      `${new Date().toISOString()}, ${records.toLocaleString('en-US')} records (~100-byte JSON values, ${PARTITIONS} partitions), ` +
        `local broker, ${os.cpus().length} cores; load average at the end ${load()} (1-minute, 5-minute, 15-minute).`,
      '',
      '| time to ready | ms | records/s | RSS bytes/record | RSS MB |',
      '|---|---:|---:|---:|---:|',
      ...rows.map((r) => `| ${r[0]} | ${fmt(r[1])} | ${fmt(r[2])} | ${fmt(r[3])} | ${fmt(r[4])} |`),
      '',
      `cdc-cache loads at ${((rate(table) / rate(kcat)) * 100).toFixed(0)}% of kcat's raw rate (target >= 80%), ` +
        `${(rate(table) / rate(kafkajs)).toFixed(1)}x KafkaJS.`,
      '',
      '| get() of 1,000 hot keys | gets/s |',
      '|---|---:|',
      `| table.get() | ${fmt(table.tableGets)} |`,
      `| plain Map.get(), a Map of the same ${records.toLocaleString('en-US')} entries | ${fmt(table.fullMapGets)} |`,
      `| plain Map.get(), a Map of the 1,000 hot keys only (lookup strings identical) | ${fmt(table.mapGets)} |`,
      '',
      `Map.get() / table.get() throughput: ${(table.fullMapGets / table.tableGets).toFixed(2)} against the Map of the same entries, ` +
        `${(table.mapGets / table.tableGets).toFixed(2)} against the 1,000-key Map (target: at most 3, and >= 1,000,000 gets/s).`,
      '',
      `First get() of ${fmt(table.coldCount)} keys never read (a native store lookup and a JSON.parse each): ${fmt(table.coldGets)} gets/s.`,
      '',
      `get() while the table thread writes the store: a second load, ${fmt(probed.gets)} get()s of random keys, 200 every 2 ms (ready in ${fmt(probed.readyMs)} ms); µs per call:`,
      '',
      '| call | p50 | p99 | p99.9 | max |',
      '|---|---:|---:|---:|---:|',
      ...[
        ['first get() during the load (store lookup, JSON.parse, write to the JS Map of copies)', probed],
        ['store lookup alone during the load (under its lock, value copied into a JS string)', probed.store],
        ['store lookup alone once loaded, nobody writing (the reference)', probed.idle],
        ['plain Map.get() beside each during the load (waits for no lock: this process waiting for a core)', probed.control],
      ].map(([name, t]) => `| ${name} | ${t.p50Us.toFixed(1)} | ${t.p99Us.toFixed(1)} | ${t.p999Us.toFixed(1)} | ${t.maxUs.toFixed(0)} |`),
      '',
      `Event-loop delay while the table loaded: p50 ${table.loopDelayMs.p50.toFixed(1)} ms, p99 ${table.loopDelayMs.p99.toFixed(1)} ms, max ${table.loopDelayMs.max.toFixed(1)} ms ` +
        `(the same process idle for 2 s just before: p50 ${table.idleLoopDelayMs.p50.toFixed(1)} ms, p99 ${table.idleLoopDelayMs.p99.toFixed(1)} ms, max ${table.idleLoopDelayMs.max.toFixed(1)} ms).`,
      '',
    ];
    const text = lines.join('\n');
    console.log(text);
    fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
    fs.writeFileSync(path.join(__dirname, 'results', 'table.md'), text);
  } finally {
    await deleteTopic(topic);
  }
}

if (process.argv[2] === '--child') {
  const [, , , kind, topic, records] = process.argv;
  ({ table: childTable, 'table-probed': childTableProbed, kafkajs: childKafkajs })[kind](topic, Number(records))
    .then((result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      process.exit(0);
    })
    .catch((error) => {
      process.stderr.write(`${error.stack}\n`);
      process.exit(1);
    });
} else {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
