// What `pipeline serve`'s JSON API accepts: the gallery's filter query and the bodies of
// its writes. Query values arrive as strings, repeated keys as several.
import { z } from 'zod';
import { verdict } from './tables.js';

export const imageSorts = ['date', 'score', 'seed', 'uncertain'] as const;

const many = z.array(z.string().min(1).max(200)).max(200);
const number = z.coerce.number().finite();

/** axis[i] pairs with value[i]: values of one axis are ORed, axes are ANDed. */
export const imageQuery = z.object({
  axis: many.default([]),
  value: many.default([]),
  verdict: z.array(verdict).max(4).default([]),
  session: many.default([]),
  min_score: number.optional(),
  max_score: number.optional(),
  labelled: z.enum(['true', 'false']).optional(),
  favourite: z.enum(['true', 'false']).optional(),
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

export const sessionPatch = z.object({
  rating: z.number().int().min(0).max(5).nullable().optional(),
  flags: z.array(z.string().min(1).max(40)).max(20).optional(),
  note: z.string().max(4000).optional(),
}).strict();
