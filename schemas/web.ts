// What `pipeline serve`'s JSON API accepts: the gallery's filter query and the bodies of
// its writes. Query values arrive as strings, repeated keys as several.
import { z } from 'zod';
import { verdict } from './tables.js';

export const imageSorts = ['date', 'score', 'margin', 'seed', 'uncertain'] as const;

const many = z.array(z.string().min(1).max(200)).max(200);
const number = z.coerce.number().finite();
const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { message: 'expected a day as YYYY-MM-DD' });
const yesNo = z.enum(['true', 'false']).optional();

/** axis[i] pairs with value[i]: values of one axis are ORed, axes are ANDed. */
export const imageQuery = z.object({
  axis: many.default([]),
  value: many.default([]),
  verdict: z.array(verdict).max(4).default([]),
  session: many.default([]),
  model: many.default([]),
  lora: many.default([]),
  theme: many.default([]),
  tag: many.default([]),
  min_score: number.optional(),
  max_score: number.optional(),
  /** the image's margin: its weakest axis's (p_target minus the best other value's p) */
  min_margin: number.optional(),
  max_margin: number.optional(),
  /** days the image was made (its session folder's time stamp), both included */
  from: day.optional(),
  to: day.optional(),
  labelled: yesNo,
  favourite: yesNo,
  flagged: yesNo,
  sort: z.enum(imageSorts).default('date'),
  order: z.enum(['asc', 'desc']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(60),
  offset: z.coerce.number().int().min(0).default(0),
}).refine((q) => q.axis.length === q.value.length, { message: 'expected as many value= as axis= parameters', path: ['value'] });

export type ImageQuery = z.infer<typeof imageQuery>;

export const imageId = z.string().regex(/^[0-9a-f]{8,128}$/);

/** ok: the image shows the asked value; wrong: it shows `value` instead; reject: keep it out of everything. */
export const labelRequest = z.object({
  image_id: imageId,
  axis: z.string().min(1).max(200).optional(),
  value: z.string().min(1).max(500).optional(),
  verdict: z.enum(['ok', 'wrong', 'reject']).optional(),
}).refine((b) => b.verdict === 'reject' || b.axis !== undefined, { message: 'expected an axis (or verdict "reject")', path: ['axis'] })
  .refine((b) => b.verdict !== 'wrong' || b.value !== undefined, { message: 'a wrong verdict needs the value the image shows', path: ['value'] })
  .refine((b) => b.verdict !== undefined || b.value !== undefined, { message: 'expected a verdict or a value', path: ['verdict'] });

export type LabelRequest = z.infer<typeof labelRequest>;

export const favouriteRequest = z.object({ image_id: imageId, favourite: z.boolean() });

/** A tag put on (or, with on: false, taken off) an image: free text, one word or a few. */
export const tagRequest = z.object({
  image_id: imageId,
  tag: z.string().trim().min(1).max(60).regex(/^[^,\n]+$/, { message: 'expected a tag without commas or line breaks' }),
  on: z.boolean().default(true),
});

/** Journal `tags`: each row puts a tag on an image or takes it off; the latest row per (image, tag) wins. */
export const tagRow = z.object({
  image_id: z.string().min(1),
  tag: z.string().min(1),
  on: z.boolean(),
  created_at: z.string(),
});
export type TagRow = z.infer<typeof tagRow>;

export const sessionPatch = z.object({
  rating: z.number().int().min(0).max(5).nullable().optional(),
  flags: z.array(z.string().min(1).max(40)).max(20).optional(),
  note: z.string().max(4000).optional(),
}).strict();

export const sessionSorts = ['session', 'planned', 'made', 'failed', 'blank', 'flagged', 'mean_match', 'rating', 'verdict', 'status'] as const;

/** GET /api/sessions: every filter optional; `name` matches part of the session's name. */
export const sessionQuery = z.object({
  name: z.string().max(200).optional(),
  verdict: z.enum(['complete', 'review']).optional(),
  status: z.string().max(40).optional(),
  flag: z.string().max(40).optional(),
  min_rating: z.coerce.number().int().min(0).max(5).optional(),
  sort: z.enum(sessionSorts).default('session'),
  order: z.enum(['asc', 'desc']).optional(),
});
export type SessionQuery = z.infer<typeof sessionQuery>;

/** GET /api/images/{id}/grid: the values of one axis by the seeds of the image's session. */
export const gridQuery = z.object({
  axis: z.string().min(1).max(200),
  seeds: z.coerce.number().int().min(1).max(24).default(8),
});
