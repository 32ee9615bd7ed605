const { xxh3 } = require('@node-rs/xxhash');
const strs = Array.from({ length: 60000 }, (_, i) => JSON.stringify({ path: `in/d001/f${i}.txt`, size: 30, mtime: 1764364000000.123 + i }));
for (let r = 0; r < 3; r++) {
  let t = performance.now();
  for (const s of strs) xxh3.xxh128(Buffer.from(s)).toString(16).padStart(32, '0');
  const t1 = performance.now();
  for (const s of strs) xxh3.xxh128(s).toString(16).padStart(32, '0');
  const t2 = performance.now();
  for (const s of strs) xxh3.xxh128(s);
  const t3 = performance.now();
  console.log('buffer', (t1 - t).toFixed(1), 'string', (t2 - t1).toFixed(1), 'no hex', (t3 - t2).toFixed(1));
}
