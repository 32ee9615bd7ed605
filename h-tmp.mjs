import { stableStringify } from './dist/src/hash.js';
function canon(v) {
  if (v === null || typeof v !== 'object') return typeof v === 'bigint' ? `"${v}"` : JSON.stringify(v);
  if (Array.isArray(v)) { let s = '['; for (let i = 0; i < v.length; i++) { if (i) s += ','; const e = v[i]; s += e === undefined || typeof e === 'function' || typeof e === 'symbol' ? 'null' : canon(e); } return s + ']'; }
  if (typeof v.toJSON === 'function') return canon(v.toJSON());
  const keys = Object.keys(v).sort(); let s = '{'; let first = true;
  for (const k of keys) { const e = v[k]; if (e === undefined || typeof e === 'function' || typeof e === 'symbol') continue; if (!first) s += ','; first = false; s += JSON.stringify(k) + ':' + canon(e); }
  return s + '}';
}
const rows = Array.from({ length: 20000 }, (_, i) => ({ path: `in/d001/f${i}.txt`, size: 30 + i, mtime: 1764364000000.123 + i }));
const rows2 = Array.from({ length: 2000 }, (_, i) => ({ id: `x${i}`, emb: Array.from({ length: 512 }, (_, j) => Math.sin(i + j)), meta: { b: 1, a: [1, { d: 2, c: null }] }, u: undefined }));
for (let r = 0; r < 3; r++) {
  let t = performance.now(); const a = rows.map(stableStringify); const t1 = performance.now(); const b = rows.map(canon); const t2 = performance.now();
  const c = rows2.map(stableStringify); const t3 = performance.now(); const d = rows2.map(canon); const t4 = performance.now();
  console.log('flat stable', (t1 - t).toFixed(1), 'canon', (t2 - t1).toFixed(1), a.every((x, i) => x === b[i]), 'emb stable', (t3 - t2).toFixed(1), 'canon', (t4 - t3).toFixed(1), c.every((x, i) => x === d[i]));
}
