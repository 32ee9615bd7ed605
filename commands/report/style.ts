// The HTML report's one stylesheet, inline in the file so it opens offline.
export const reportStyle = `
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{margin-bottom:0}.meta{color:#666}section{margin:2.5em 0}
table{border-collapse:collapse;font-size:12px}th,td{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}
td.num{text-align:right}th.sorted{background:#eef3fb;white-space:nowrap}.note{background:#fff4d6;padding:.5em 1em;border-left:4px solid #e0a800}
.sort,.legend{color:#555;font-size:12px}.legend{background:#f5f5f5;padding:.5em 1em}
dl.summary{display:grid;grid-template-columns:9em 1fr;gap:.3em 1em;background:#f5f8fc;padding:1em;border-left:4px solid #3a6ea5}
dl.summary dt{font-weight:600}dl.summary dd{margin:0}dl.summary ul{margin:.2em 0;padding-left:1.2em}
td.error,.errors code{color:#a02c1c;white-space:pre-wrap}
.grid{margin:1em 0}.row{display:flex;gap:6px;align-items:flex-start;flex-wrap:wrap}.label{width:3.5em;color:#666}
.thumb{margin:0;text-align:center;font-size:11px;width:130px}.thumb img{display:block;margin:0 auto;border:2px solid #4c9a5b}
.thumb.worst img{border-color:#c8553d}.missing{width:96px;height:64px;background:#eee;color:#999;font-size:10px}
.thumb code.id{display:block;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-size:10px;color:#555}
.empty{color:#999}`;
