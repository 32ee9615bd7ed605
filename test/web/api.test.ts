// The review app's JSON API against a project a real `pipeline run` produced.
import { existsSync, renameSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { fileSql, projectFiles } from '../../src/file-context.js';
import { startServer } from '../../web/server.js';
import { THUMB_SIZE } from '../../web/thumbs.js';
import { copyProject, pipeline, request, requestBytes, sqlRows } from './helpers.js';

let dir: string;
let url: string;
let close: () => Promise<void>;
let sql: <T>(q: string) => Promise<T[]>;
const zones = { hair: { axis: 'HairColor', box: [0, 0, 1, 0.5] } };
const settings = ['--set', 'resolve.seeds=4#100', '--set', 'resolve.count=48', '--set', `score.zones=${JSON.stringify(zones)}`, '--set', 'score.cascade_margin=1'];

beforeAll(async () => {
  dir = copyProject();
  // every prompt at four seeds (100-103), so that images share seeds as in a real same-seed comparison;
  // a zone for HairColor, tried on every axis it serves, so that some readings come from it
  const run = await pipeline(dir, ['run', 'classify', 'sessions', ...settings]);
  if (run.code !== 0) throw new Error(run.stderr);
  const files = await fileSql(projectFiles(dir));
  sql = files.sql as typeof sql;
  const server = await startServer(dir, { host: '127.0.0.1', port: 0, readOnly: false });
  url = server.url;
  close = async () => {
    await server.close();
    await files.close();
  };
});
afterAll(() => close?.());

const api = async (path: string) => {
  const reply = await request(`${url}${path.replace(/^\//, '')}`);
  expect(reply.status, reply.text).toBe(200);
  return reply.json();
};
const count = async (query: string) => (await sql<{ n: number }>(`select count(*)::integer as n from (${query})`))[0]!.n;
const post = (path: string, body: unknown) => request(`${url}${path.slice(1)}`, { method: 'POST', body });

describe('GET /api/images', () => {
  it('lists every image that has a file, with its axes and links', async () => {
    const page = await api('/api/images?limit=5');
    expect(page.total).toBe(await count(`select distinct image_id from images where image_id <> '' and status <> 'failed'`));
    expect(page.items).toHaveLength(5);
    const item = page.items[0];
    expect(Object.keys(item)).toEqual(expect.arrayContaining(['image_id', 'session', 'prompt', 'seed', 'verdict', 'match_score', 'axes', 'thumb_url', 'image_url']));
    expect(item.axes[0]).toMatchObject({ axis: expect.any(String), value: expect.any(String), p_target: expect.any(Number), margin: expect.any(Number), label: null });
    expect(item.thumb_url).toBe(`/api/images/${item.image_id}/thumb`);
  });

  it('ORs values of one axis and ANDs axes', async () => {
    const asked = (axis: string, value: string) => `select image_id from scores where axis = '${axis}' and value = '${value}'`;
    const red = await api('/api/images?axis=HairColor&value=Red&limit=500');
    expect(red.total).toBe(await count(asked('HairColor', 'Red')));
    expect(red.items.every((i: any) => i.axes.some((a: any) => a.axis === 'HairColor' && a.value === 'Red'))).toBe(true);
    const redOrBlue = await api('/api/images?axis=HairColor&value=Red&axis=HairColor&value=Blue');
    expect(redOrBlue.total).toBe(red.total + (await count(asked('HairColor', 'Blue'))));
    const redInSnow = await api('/api/images?axis=HairColor&value=Red&axis=Background&value=Snow');
    expect(redInSnow.total).toBe(await count(`${asked('HairColor', 'Red')} intersect ${asked('Background', 'Snow')}`));
    expect(redInSnow.total).toBeLessThan(red.total);
  });

  it('filters by verdict, score range and session', async () => {
    const success = await api('/api/images?verdict=success&limit=500');
    expect(success.total).toBe(await count(`select image_id from quality where verdict = 'success'`));
    expect(success.items.every((i: any) => i.verdict === 'success')).toBe(true);
    const middling = await api('/api/images?min_score=0.3&max_score=0.8&limit=500');
    expect(middling.total).toBe(await count(`select image_id from quality where match_score between 0.3 and 0.8`));
    expect(middling.items.every((i: any) => i.match_score >= 0.3 && i.match_score <= 0.8)).toBe(true);
    const pets = await api('/api/images?session=pet&limit=500');
    expect(pets.total).toBeGreaterThan(0);
    expect(pets.items.every((i: any) => i.session === 'pet')).toBe(true);
    expect((await request(`${url}api/images?verdict=great`)).status).toBe(400);
    expect((await request(`${url}api/images?axis=HairColor`)).status).toBe(400);
  });

  it('sorts and pages without overlap', async () => {
    const byScore = await api('/api/images?sort=score&limit=500');
    const scores = byScore.items.map((i: any) => i.match_score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    const bySeed = await api('/api/images?sort=seed&limit=500');
    const seeds = bySeed.items.map((i: any) => i.seed);
    expect(seeds).toEqual([...seeds].sort((a, b) => a - b));
    const [first, second, both] = await Promise.all([api('/api/images?sort=score&limit=10'), api('/api/images?sort=score&limit=10&offset=10'), api('/api/images?sort=score&limit=20')]);
    expect([...first.items, ...second.items].map((i: any) => i.image_id)).toEqual(both.items.map((i: any) => i.image_id));
  });

  it('puts the images the models are least sure of first in the review order', async () => {
    const queue = await api('/api/images?sort=uncertain&limit=500');
    const disagree = (i: any) => i.axes.some((a: any) => a.probe_value !== null && a.probe_value !== a.top_value);
    const certainty = (i: any) => Math.min(...i.axes.map((a: any) => Math.abs(a.margin)));
    const keys = queue.items.map((i: any) => [disagree(i) ? 0 : 1, certainty(i)]);
    const sorted = [...keys].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    expect(keys).toEqual(sorted);
  });
});

describe('GET /api/images/{id}', () => {
  it('gives prompt, PNG info and the neighbours in the filtered order', async () => {
    const page = await api('/api/images?sort=score&verdict=partial&limit=3');
    const [a, b, c] = page.items.map((i: any) => i.image_id);
    const detail = await api(`/api/images/${b}?sort=score&verdict=partial`);
    expect(detail.neighbours).toEqual({ prev: a, next: c, position: 2, total: page.total });
    expect(detail.png_info.parameters).toContain(`Seed: ${detail.seed}`);
    expect(detail.negative_prompt).toEqual(expect.any(String));
  });

  it('lists the other renders of the same seed', async () => {
    const [item] = (await api('/api/images?sort=seed&limit=1')).items;
    const detail = await api(`/api/images/${item.image_id}`);
    const others = await sql<{ image_id: string }>(`select distinct image_id from images where seed = ${item.seed} and image_id <> '${item.image_id}' and status <> 'failed'`);
    expect(detail.same_seed.length).toBe(Math.min(12, others.length));
    expect(detail.same_seed.length).toBeGreaterThan(0);
    for (const s of detail.same_seed) expect(others.map((o) => o.image_id)).toContain(s.image_id);
  });

  it('serves the PNG and a WebP thumbnail made once per image', async () => {
    const [item] = (await api('/api/images?limit=1')).items;
    const png = await requestBytes(`${url}${item.image_url.slice(1)}`);
    expect(png.type).toBe('image/png');
    expect(png.bytes.subarray(1, 4).toString()).toBe('PNG');
    const thumb = await requestBytes(`${url}${item.thumb_url.slice(1)}`);
    expect(thumb.type).toBe('image/webp');
    const meta = await sharp(thumb.bytes).metadata();
    expect(meta.format).toBe('webp');
    expect(Math.max(meta.width!, meta.height!)).toBe(THUMB_SIZE);
    const cached = join(dir, 'data', 'thumbs', item.image_id.slice(0, 2), `${item.image_id}-${THUMB_SIZE}.webp`);
    expect(existsSync(cached)).toBe(true);
    const madeAt = statSync(cached).mtimeMs;
    expect((await requestBytes(`${url}${item.thumb_url.slice(1)}`)).bytes.equals(thumb.bytes)).toBe(true);
    expect(statSync(cached).mtimeMs).toBe(madeAt);
  });

  it('answers 404 for an image whose file is gone', async () => {
    const [item] = (await api('/api/images?sort=seed&order=desc&limit=1')).items;
    const [{ path: stored }] = await sql<{ path: string }>(`select path from images where image_id = '${item.image_id}'`);
    const path = resolve(dir, stored);
    renameSync(path, `${path}.away`);
    try {
      expect((await request(`${url}${item.image_url.slice(1)}`)).status).toBe(404);
      expect((await request(`${url}${item.thumb_url.slice(1)}`)).status).toBe(404);
    } finally {
      renameSync(`${path}.away`, path);
    }
  });
});

describe('what each axis was read from', () => {
  it('names the zone crop of an axis read from one, with its box, and the whole image otherwise', async () => {
    const read = await sql<{ image_id: string; axis: string; method: string }>(
      `select image_id, axis, method from scores where method like 'zone:%' or method = 'full' order by method desc, image_id limit 1`);
    expect(read[0]?.method, 'the zone won no reading: the test project needs one').toBe('zone:hair');
    const detail = await api(`/api/images/${read[0]!.image_id}`);
    const methods = await sql<{ axis: string; method: string }>(`select axis, method from scores where image_id = '${read[0]!.image_id}' order by axis`);
    expect(detail.axes.map((a: any) => [a.axis, a.method])).toEqual(methods.map((m) => [m.axis, m.method]));
    for (const a of detail.axes) {
      if (a.method === 'zone:hair') expect(a.zone).toEqual({ kind: 'zone', name: 'hair', box: zones.hair.box });
      else if (a.method === 'full') expect(a.zone).toEqual({ kind: 'full', name: null, box: [0, 0, 1, 1] });
    }
  });
});

describe('GET /api/images/{id}/grid', () => {
  it('lays out the values of an axis by the seeds of the session, from what was rendered', async () => {
    const [item] = (await api('/api/images?session=character&sort=seed&order=desc&limit=1')).items;
    const grid = await api(`/api/images/${item.image_id}/grid?axis=HairColor`);
    expect(grid.seeds[0]).toBe(item.seed);
    const rendered = await sql<{ value: string; seed: number; ids: string[] }>(
      `select s.value, i.seed, list(distinct s.image_id) as ids from scores s join images i using (image_id) join prompts p on p.prompt_id = i.prompt_id
       where s.axis = 'HairColor' and p.session = 'character' and i.status <> 'failed' group by all`);
    const at = new Map(rendered.map((r) => [`${r.value}/${r.seed}`, r.ids]));
    expect(grid.values).toEqual([...new Set((await sql<{ value: string }>(`select distinct value from scores where axis = 'HairColor' order by 1`)).map((r) => r.value))]);
    expect(grid.seeds.length).toBe(4);
    let empty = 0;
    grid.values.forEach((value: string, r: number) => grid.seeds.forEach((seed: number, c: number) => {
      const cell = grid.cells[r][c];
      const there = at.get(`${value}/${seed}`);
      if (!there) {
        expect(cell).toBeNull();
        empty++;
      } else {
        expect(there).toContain(cell.image_id);
        expect(cell.renders).toBe(there.length);
      }
    }));
    const own = grid.values.indexOf(item.axes.find((a: any) => a.axis === 'HairColor').value);
    expect(grid.cells[own][0].image_id).toBe(item.image_id);
    expect(empty + rendered.filter((r) => grid.seeds.includes(r.seed)).length).toBe(grid.values.length * grid.seeds.length);
    expect((await request(`${url}api/images/${item.image_id}/grid?axis=Shoes`)).status).toBe(404);
    expect((await request(`${url}api/images/${item.image_id}/grid`)).status).toBe(400);
  });
});

describe('POST /api/labels', () => {
  it('writes labels where pipeline label does, so pipeline sql and the gallery see them', async () => {
    const [item] = (await api('/api/images?sort=score&limit=1')).items;
    const axis = item.axes[0];
    const ok = await post('/api/labels', { image_id: item.image_id, axis: axis.axis, verdict: 'ok' });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json()).toMatchObject({ image_id: item.image_id, axis: axis.axis, value: axis.value, reject: false });
    const labelled = await api('/api/images?labelled=true');
    expect(labelled.items.map((i: any) => i.image_id)).toEqual([item.image_id]);
    expect(labelled.items[0].axes[0].label).toBe(axis.value);
    const unlabelled = await api('/api/images?labelled=false&limit=1');
    expect(unlabelled.total).toBe((await api('/api/images?limit=1')).total - 1);
    const rows = await sqlRows(dir, `select image_id, axis, value, reject from labels`);
    expect(rows).toEqual([{ image_id: item.image_id, axis: axis.axis, value: axis.value, reject: false }]);
    const status = await pipeline(dir, ['status', 'classify', ...settings]);
    expect(status.stdout).toMatch(/^classify: stale\n {2}- 1 new label since the last run$/m);
  });

  it('refuses unknown images, axes and values, and a wrong verdict without the value shown', async () => {
    const [item] = (await api('/api/images?limit=1')).items;
    const axis = item.axes[0].axis;
    expect((await post('/api/labels', { image_id: '0'.repeat(32), axis, verdict: 'ok' })).status).toBe(404);
    expect((await post('/api/labels', { image_id: item.image_id, axis: 'Shoes', verdict: 'ok' })).status).toBe(400);
    const typo = await post('/api/labels', { image_id: item.image_id, axis, verdict: 'wrong', value: 'Nope' });
    expect(typo.status).toBe(400);
    expect(typo.json().error).toMatch(/expected a value of/);
    expect((await post('/api/labels', { image_id: item.image_id, axis, verdict: 'wrong' })).status).toBe(400);
    expect((await post('/api/labels', { image_id: item.image_id })).status).toBe(400);
  });

  it('records a wrong value, a reject and a favourite', async () => {
    const items = (await api('/api/images?sort=seed&limit=2')).items;
    const axis = items[0].axes.find((a: any) => a.top_value !== a.value) ?? items[0].axes[0];
    const shown = (await api('/api/facets')).axes.find((a: any) => a.axis === axis.axis).values.map((v: any) => v.value).find((v: string) => v !== axis.value);
    expect((await post('/api/labels', { image_id: items[0].image_id, axis: axis.axis, verdict: 'wrong', value: shown })).json().value).toBe(shown);
    expect((await post('/api/labels', { image_id: items[1].image_id, verdict: 'reject' })).json()).toMatchObject({ reject: true, axis: null });
    expect((await post('/api/favourites', { image_id: items[1].image_id, favourite: true })).status).toBe(200);
    const detail = await api(`/api/images/${items[1].image_id}`);
    expect(detail).toMatchObject({ rejected: true, favourite: true });
    expect((await api('/api/images?favourite=true')).items.map((i: any) => i.image_id)).toEqual([items[1].image_id]);
  });
});

describe('sessions', () => {
  it('lists planned, made, failed and blank images with the mean match, and keeps notes', async () => {
    const sessions = await api('/api/sessions');
    const expected = await sqlRows<{ session: string; planned: number }>(dir, `select session, count(*)::integer as planned from prompts group by 1 order by 1`);
    expect(sessions.map((s: any) => [s.session, s.planned])).toEqual(expected.map((s) => [s.session, s.planned]));
    for (const s of sessions) expect(s.made + s.failed + s.blank).toBe(s.planned);
    const name = sessions[0].session;
    const patch = (body: unknown, session = name) => request(`${url}api/sessions/${encodeURIComponent(session)}`, { method: 'PATCH', body });
    expect((await patch({ rating: 4, flags: ['keeper'] })).status).toBe(200);
    expect((await patch({ note: 'hands look off' })).status).toBe(200);
    expect((await api('/api/sessions'))[0]).toMatchObject({ session: name, rating: 4, flags: ['keeper'], note: 'hands look off' });
    expect((await patch({ rating: 9 })).status).toBe(400);
    expect((await patch({ colour: 'red' })).status).toBe(400);
    expect((await patch({ rating: 1 }, 'no-such-session')).status).toBe(404);
    expect(await sqlRows(dir, `select session, rating, note from session_notes order by created_at`)).toEqual([
      { session: name, rating: 4, note: '' },
      { session: name, rating: 4, note: 'hands look off' },
    ]);
  });

  it('gives each session the verdict of the sessions stage, and sorts and filters the list', async () => {
    const judged = await sqlRows<{ session: string; verdict: string }>(dir, `select session, verdict from sessions order by session`);
    const all = await api('/api/sessions');
    expect(all.map((s: any) => [s.session, s.verdict])).toEqual(judged.map((s) => [s.session, s.verdict]));
    expect(all.every((s: any) => s.status === 'completed')).toBe(true);
    const byMatch = await api('/api/sessions?sort=mean_match');
    const means = byMatch.map((s: any) => s.mean_match);
    expect(means).toEqual([...means].sort((a, b) => b - a));
    expect((await api('/api/sessions?sort=planned&order=asc')).map((s: any) => s.planned)).toEqual(all.map((s: any) => s.planned).sort((a: number, b: number) => a - b));
    const name = all[1].session;
    const patch = (body: unknown) => request(`${url}api/sessions/${encodeURIComponent(name)}`, { method: 'PATCH', body });
    expect((await patch({ rating: 5, flags: ['favourite', 'test'] })).status).toBe(200);
    expect((await api('/api/sessions?flag=test')).map((s: any) => s.session)).toEqual([name]);
    expect((await api('/api/sessions?min_rating=5')).map((s: any) => s.session)).toEqual([name]);
    expect((await api(`/api/sessions?name=${name.slice(1, 4).toUpperCase()}`)).map((s: any) => s.session)).toContain(name);
    const review = judged.filter((s) => s.verdict === 'review').map((s) => s.session);
    expect((await api('/api/sessions?verdict=review')).map((s: any) => s.session)).toEqual(review);
    expect((await api('/api/sessions?status=aborted'))).toEqual([]);
    expect((await request(`${url}api/sessions?sort=colour`)).status).toBe(400);
  });
});
