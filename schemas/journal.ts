// The sidecar beside each append-only journal (data/journals/<name>.columns.json): the
// column types its SQL view reads the JSON lines with, derived from the rows' zod schema.
import { z } from 'zod';

export const journalColumnsFile = z.object({
  schema: z.literal(1),
  columns: z.array(z.tuple([z.string(), z.string()])).min(1),
});

export type JournalColumnsFile = z.infer<typeof journalColumnsFile>;
