'use strict';
// Writes the first N benchmark workload events (bench/lib/workload.js) for bench/native/hotpath:
// <u32 key length><key><u32 value length><value> per event, little endian.
//   node bench/native/dump-events.js OUT.bin [N]
const fs = require('fs');
const { generateEvents, encodeBuffers } = require('../lib/workload');

const [out, nText = '20000'] = process.argv.slice(2);
if (!out) {
  console.error('usage: node bench/native/dump-events.js OUT.bin [N]');
  process.exit(2);
}
const chunks = [];
for (const event of generateEvents(Number(nText))) {
  const { key, value } = encodeBuffers(event);
  for (const part of [key, value]) {
    const length = Buffer.alloc(4);
    length.writeUInt32LE(part.length);
    chunks.push(length, part);
  }
}
fs.writeFileSync(out, Buffer.concat(chunks));
console.log(`wrote ${nText} events to ${out}`);
