// The files sdgen V2.0 users write: prompt, template, chunk, variations and theme files
// (see spec/templates.md). Objects are loose because real sdgen files carry extra keys
// (`themable`, `style_sensitive`, `prompts`...) that sdgen itself ignores.
import { z } from 'zod';
import { adetailerFileSchema, controlnetFileSchema } from './presets.js';

/** YAML scalars that users write unquoted (`Age: 25`, `On: yes`) read as text. */
const text = z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v));

const version = z.union([z.literal('1.0'), z.literal('2.0'), z.literal(1), z.literal(2)]).optional()
  .describe('format version, "1.0" or "2.0"');

/** `Name: path.yaml`, `Name: [a.yaml, "inline text"]` or a namespace `Name: {sub: path}`. */
export const importValue = z.union([
  z.string().describe('one file, or inline text when it does not end in .yaml'),
  z.array(text).describe('files and inline texts, merged in order'),
  z.record(z.string(), z.string()).describe('a namespace of chunks, used as @Name.sub'),
]);
export const importsBlock = z.record(z.string(), importValue).describe('placeholder name -> source');

export const chunksBlock = z.record(z.string(), z.union([z.string(), z.record(z.string(), z.string())]))
  .describe('chunk name -> .chunk.yaml path (or a namespace of them)');

export const themesBlock = z.looseObject({
  enable_autodiscovery: z.boolean().default(false),
  search_paths: z.array(z.string()).default(['.']),
  explicit: z.record(z.string(), z.string()).default({}).describe('theme name -> folder or theme.yaml'),
});

export const generationBlock = z.looseObject({
  mode: z.enum(['combinatorial', 'random', 'ask']).describe('ask: pipeline plan asks on a terminal'),
  seed: z.number().int().describe('-1 draws one seed and records it in the plan'),
  seed_mode: z.enum(['fixed', 'progressive', 'random', 'ask']).describe('ask: pipeline plan asks on a terminal'),
  max_images: z.number().int().describe('> 0 caps the count; <= 0 means all combinations'),
});

export const outputBlock = z.looseObject({
  session_name: z.string().optional(),
  filename_keys: z.array(z.string()).optional(),
  annotations: z.unknown().optional(),
});

export const parametersBlock = z.record(z.string(), z.unknown()).describe('A1111 txt2img parameters');

export const promptFileSchema = z.looseObject({
  version,
  type: z.literal('prompt').optional(),
  name: text,
  implements: z.string().optional(),
  prompt: z.string().refine((s) => !s.includes('{prompt}'), 'a prompt must not contain {prompt}'),
  negative_prompt: z.string().optional(),
  imports: importsBlock.optional(),
  chunks: chunksBlock.optional(),
  parameters: parametersBlock.optional(),
  generation: generationBlock,
  output: outputBlock.optional(),
  themes: themesBlock.optional(),
});

export const templateFileSchema = z.looseObject({
  version,
  type: z.literal('template').optional(),
  name: text,
  implements: z.string().optional(),
  template: z.string().refine((s) => s.includes('{prompt}'), 'a template must contain {prompt}'),
  negative_prompt: z.string().optional().describe('may contain {negprompt}'),
  imports: importsBlock.optional(),
  chunks: chunksBlock.optional(),
  parameters: parametersBlock.optional(),
  themes: themesBlock.optional(),
  style_sensitive_placeholders: z.array(z.string()).optional(),
});

export const chunkFileSchema = z.looseObject({
  version,
  type: z.string().describe('a category, e.g. character; implements must share it'),
  name: text,
  implements: z.string().optional(),
  template: z.string().refine((s) => !s.includes('{prompt}'), 'a chunk must not contain {prompt}'),
  imports: importsBlock.optional(),
  defaults: z.record(z.string(), text).optional().describe('parameter -> text when the caller gives none'),
});

/** A multipart value: `{main: "bob cut", lora: "<lora:bob:0.7>"}`. */
export const multipartValue = z.record(z.string(), text);
export const variationValue = z.union([text, multipartValue, z.null().transform(() => '')]);
export const variationsMapping = z.record(z.string(), variationValue);

/** Structured form: `variations:` holds the mapping; other top-level keys are metadata. */
export const structuredVariationsSchema = z.looseObject({ variations: variationsMapping });
export const variationsFileSchema = z.union([structuredVariationsSchema, variationsMapping]);

export const themeFileSchema = z.looseObject({
  version,
  type: z.literal('theme_config').optional(),
  name: text,
  description: z.string().optional(),
  tags: z.array(text).optional().describe('for `pipeline themes list --tag`'),
  imports: z.record(z.string(), z.union([z.string(), z.array(text)]))
    .describe('X: path, X.<style>: path, X: [Remove]'),
  variations: z.unknown().optional().describe('names, metadata only'),
});

export type ImportValue = z.infer<typeof importValue>;
export type ThemesBlock = z.infer<typeof themesBlock>;
export type GenerationBlock = z.infer<typeof generationBlock>;
export type OutputBlock = z.infer<typeof outputBlock>;
export type PromptFile = z.infer<typeof promptFileSchema>;
export type TemplateFile = z.infer<typeof templateFileSchema>;
export type ChunkFile = z.infer<typeof chunkFileSchema>;
export type VariationValue = z.infer<typeof variationValue>;
export type ThemeFile = z.infer<typeof themeFileSchema>;

/** Every file kind, by the name `pipeline schema export` gives its JSON Schema file. */
export const templateFileSchemas = {
  prompt: promptFileSchema,
  template: templateFileSchema,
  chunk: chunkFileSchema,
  variations: variationsFileSchema,
  theme: themeFileSchema,
  adetailer: adetailerFileSchema,
  controlnet: controlnetFileSchema,
} as const;
