'use strict';
// Produces the first N workload events into a topic (child process of the harness, so its memory
// and CPU do not leak into the harness). Usage: node produce-backlog.js <topic> <n>
const { openProducer, produceAll, closeProducer } = require('./lib/kafka');
const { generateEvents, encodeBuffers } = require('./lib/workload');
const { loadInfraEnv } = require('./lib/common');

async function main() {
  loadInfraEnv();
  const [topic, nText] = process.argv.slice(2);
  const n = Number(nText);
  const producer = await openProducer(process.env.KAFKA_BROKERS || '127.0.0.1:19092');
  const t0 = Date.now();
  function* messages() {
    for (const ev of generateEvents(n)) {
      const { key, value } = encodeBuffers(ev);
      yield { partition: ev.partition, key, value };
    }
  }
  const count = await produceAll(producer, topic, messages());
  await closeProducer(producer);
  const sec = (Date.now() - t0) / 1000;
  console.log(`produced ${count} events in ${sec.toFixed(1)} s (${Math.round(count / sec)} events/s)`);
}
main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
