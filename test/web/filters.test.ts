// The gallery's filters that a demo run cannot vary (models, LoRAs, themes, dates, quality
// flags, margins) and tags, against tables written row by row: each expected answer is
// worked out here from the rows, not by the server's SQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../web/server.js';
import { request, sqlRows } from './helpers.js';
import { fixtureImages, tableProject, type FixtureImage } from './table-project.js';

let dir: string;
let url: string;
let close: () => Promise<void>;
const images = fixtureImages();

beforeAll(async () => {
  dir = await tableProject(images);
  const server = await startServer(dir, { host: '127.0.0.1', port: 0, readOnly: false });
  url = server.url;
  close = server.close;
});
afterAll(() => close?.());

const ids = (list: FixtureImage[]) => list.map((m) => m.image_id).sort();
const weakest = (m: FixtureImage) => Math.min(...Object.values(m.axes).map(([, margin]) => margin));

async function found(query: string): Promise<string[]> {
  const reply = await request(`${url}api/images?limit=500&${query}`);
  expect(reply.status, reply.text).toBe(200);
  const page = reply.json();
  expect(page.items).toHaveLength(page.total);
  return page.items.map((i: { image_id: string }) => i.image_id).sort();
}

describe('gallery filters', () => {
  it('picks models, LoRAs by name and themes, ORed within each and ANDed across', async () => {
    expect(await found('model=sdxl-turbo')).toEqual(ids(images.filter((m) => m.model === 'sdxl-turbo')));
    const hasLora = (m: FixtureImage, name: string) => m.loras.some((l) => l.startsWith(`${name}:`));
    expect(await found('lora=ink')).toEqual(ids(images.filter((m) => hasLora(m, 'ink'))));
    expect(await found('lora=ink&lora=glow')).toEqual(ids(images.filter((m) => hasLora(m, 'ink') || hasLora(m, 'glow'))));
    expect(await found('theme=fantasy&theme=cyberpunk')).toEqual(ids(images.filter((m) => m.theme !== null)));
    expect(await found('model=sd15-base&lora=glow&theme=fantasy')).toEqual(ids(images.filter((m) => m.model === 'sd15-base' && hasLora(m, 'glow') && m.theme === 'fantasy')));
  });

  it('takes a day range from the session folders, both days included', async () => {
    expect(await found('from=2026-11-15')).toEqual(ids(images.filter((m) => m.stamp >= '20261115')));
    expect(await found('to=2026-11-30')).toEqual(ids(images));
    expect(await found('from=2026-11-02&to=2026-11-29')).toEqual(ids(images.filter((m) => m.stamp.startsWith('20261115'))));
    expect((await request(`${url}api/images?from=15.11.2026`)).status).toBe(400);
  });

  it('filters flagged images and a margin range, and sorts by margin', async () => {
    expect(await found('flagged=true')).toEqual(ids(images.filter((m) => m.flagged)));
    expect(await found('flagged=false')).toEqual(ids(images.filter((m) => !m.flagged)));
    expect(await found('min_margin=-0.25&max_margin=0.25')).toEqual(ids(images.filter((m) => weakest(m) >= -0.25 && weakest(m) <= 0.25)));
    const page = (await request(`${url}api/images?sort=margin&limit=500`)).json();
    const margins = page.items.map((i: { margin: number }) => i.margin);
    expect(margins).toEqual([...margins].sort((a, b) => a - b));
    expect(margins[0]).toBeCloseTo(Math.min(...images.map(weakest)));
  });

  it('lists models, LoRAs, themes and the days there are as facets', async () => {
    const facets = (await request(`${url}api/facets`)).json();
    expect(facets.models.map((m: { value: string }) => m.value)).toEqual(['sd15-base', 'sdxl-turbo']);
    expect(facets.loras).toEqual([{ value: 'glow', n: 18 }, { value: 'ink', n: 18 }]);
    expect(facets.themes.map((t: { value: string }) => t.value)).toEqual(['cyberpunk', 'fantasy']);
    expect(facets.days).toEqual({ first: '2026-11-01', last: '2026-11-30' });
  });
});

describe('an image found twice', () => {
  it('shows once, as its first row', async () => {
    const first = images[0]!;
    expect((await request(`${url}api/images?limit=1`)).json().total).toBe(images.length);
    for (const query of ['session=again', 'model=again', 'theme=again', 'axis=Colour&value=Again', 'from=2026-12-31']) expect(await found(query)).toEqual([]);
    const detail = (await request(`${url}api/images/${first.image_id}`)).json();
    expect(detail).toMatchObject({ session: first.session, model_name: first.model, margin: weakest(first) });
    expect(detail.axes.map((a: { axis: string; value: string }) => [a.axis, a.value])).toEqual(Object.entries(first.axes).map(([axis, [value]]) => [axis, value]));
  });
});

describe('tags', () => {
  const tag = (image_id: string, tag: string, on?: boolean) => request(`${url}api/tags`, { method: 'POST', body: { image_id, tag, on } });

  it('puts tags on images and takes them off, through a journal pipeline sql reads', async () => {
    const [a, b, c] = images.map((m) => m.image_id);
    for (const [id, name] of [[a, 'hands'], [b, 'hands'], [b, 'keeper'], [c, 'keeper']] as const) {
      const reply = await tag(id!, name);
      expect(reply.status, reply.text).toBe(200);
    }
    expect((await tag(c!, 'keeper', false)).json()).toMatchObject({ image_id: c, tag: 'keeper', on: false });
    expect(await found('tag=hands')).toEqual([a, b].sort());
    expect(await found('tag=keeper')).toEqual([b]);
    expect(await found('tag=keeper&tag=hands')).toEqual([a, b].sort());
    const detail = (await request(`${url}api/images/${b}`)).json();
    expect(detail.tags).toEqual(['hands', 'keeper']);
    expect((await request(`${url}api/facets`)).json().tags).toEqual([{ value: 'hands', n: 2 }, { value: 'keeper', n: 1 }]);
    const rows = await sqlRows<{ image_id: string; tag: string; on: boolean }>(dir, 'select image_id, tag, "on" from tags order by created_at, tag');
    expect(rows).toHaveLength(5);
    expect(rows.at(-1)).toEqual({ image_id: c, tag: 'keeper', on: false });
  });

  it('refuses an unknown image and a tag with a comma', async () => {
    expect((await tag('f'.repeat(32), 'x')).status).toBe(404);
    expect((await tag(images[0]!.image_id, 'a, b')).status).toBe(400);
    expect((await tag(images[0]!.image_id, '   ')).status).toBe(400);
  });
});
