// CLIP's tokenizer (byte-level BPE, 49,408 ids, context 77) as OpenAI's simple_tokenizer.py
// runs it: the text cleaned as it cleans it (clip-text-clean.ts), split by its pattern,
// each piece's UTF-8 bytes merged by rank. The vocabulary and merges come from a CLIP
// folder's tokenizer.json, or for the built-in one from OpenAI's merges file (assets/clip),
// so the demo model and a bare install tokenise exactly like CLIP. One difference on
// purpose: a literal <|startoftext|> or <|endoftext|> in a prompt is text, not a special
// token; CLIP pools at the first end-of-text id, so one mid-prompt would cut it short.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { InputError } from '../src/errors.js';
import { cleanClipText } from './clip-text-clean.js';

export const CLIP_CONTEXT = 77;
export const CLIP_VOCAB_SIZE = 49408;
export const SOT_ID = 49406;
export const EOT_ID = 49407;
/** CLIP uses merges 1..48894 of the file (line 0 is a header). */
const MERGE_COUNT = 49152 - 256 - 2;

export interface ClipTokenizer {
  /** SOT + tokens + EOT, truncated with EOT last, padded with EOT to 77 ids. */
  encodeClip(text: string): number[];
}

/** OpenAI's bytes_to_unicode: printable bytes map to themselves, the rest to 256+n. */
export function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const chars = printable.map((b) => String.fromCodePoint(b));
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (printable.includes(b)) continue;
    chars.push(String.fromCodePoint(256 + n++));
  }
  // CLIP's vocabulary lists the symbols in this insertion order, not byte order.
  return chars;
}

/** Where the shipped merges file lives, from adapters/ or from dist/adapters/. */
export function defaultMergesPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, 'assets', 'clip', 'bpe_simple_vocab_16e6.txt.gz');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('assets/clip/bpe_simple_vocab_16e6.txt.gz is missing from the package');
}

const builtJson = new Map<string, object>();

/** A Hugging Face tokenizer.json equal in behaviour to openai/clip-vit-base-patch32's. */
export function buildClipTokenizerJson(mergesPath: string = defaultMergesPath()): object {
  const cached = builtJson.get(mergesPath);
  if (cached) return cached;
  const lines = gunzipSync(readFileSync(mergesPath)).toString('utf8').split('\n');
  const merges = lines.slice(1, MERGE_COUNT + 1);
  if (merges.length !== MERGE_COUNT) {
    throw new InputError(`expected at least ${MERGE_COUNT + 1} lines of BPE merges, found ${lines.length}`, {
      file: mergesPath,
    });
  }
  const symbols = bytesToUnicode();
  const tokens = [...symbols, ...symbols.map((s) => `${s}</w>`), ...merges.map((m) => m.replace(' ', ''))];
  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => (vocab[t] = i));
  vocab['<|startoftext|>'] = SOT_ID;
  vocab['<|endoftext|>'] = EOT_ID;
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: true,
    special: true,
  });
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(SOT_ID, '<|startoftext|>'), special(EOT_ID, '<|endoftext|>')],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: {
            Regex:
              "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
          },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: ['<|endoftext|>', EOT_ID],
      cls: ['<|startoftext|>', SOT_ID],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<|endoftext|>',
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
  builtJson.set(mergesPath, json);
  return json;
}

/** tokenizer_config.json as the Hugging Face CLIP export writes it. */
export function clipTokenizerConfig(): Record<string, unknown> {
  return {
    tokenizer_class: 'CLIPTokenizer',
    bos_token: '<|startoftext|>',
    eos_token: '<|endoftext|>',
    unk_token: '<|endoftext|>',
    pad_token: '<|endoftext|>',
    model_max_length: CLIP_CONTEXT,
    do_lower_case: true,
    clean_up_tokenization_spaces: true,
  };
}

function readJson(file: string): object {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as object;
  } catch (err) {
    throw new InputError(`expected a JSON tokenizer file: ${(err as Error).message}`, { file });
  }
}

/** Pads with EOT (CLIP's pad token) and keeps EOT last when the text is too long. */
export function padClipIds(ids: number[]): number[] {
  const out = ids.slice(0, CLIP_CONTEXT);
  if (ids.length > CLIP_CONTEXT) out[CLIP_CONTEXT - 1] = EOT_ID;
  while (out.length < CLIP_CONTEXT) out.push(EOT_ID);
  return out;
}

interface BpeModel {
  vocab: Record<string, number>;
  /** "a b" strings, or [a, b] pairs in newer tokenizer.json files */
  merges: (string | [string, string])[];
}

/** simple_tokenizer.py's pattern without its two special-token alternatives (see the top). */
const PIECES = /'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/giu;

/** Byte -> the character that stands for it in the vocabulary (bytes_to_unicode as a lookup). */
function byteEncoder(): string[] {
  const out: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = String.fromCodePoint(printable ? b : 256 + n++);
  }
  return out;
}

/** The ids of a cleaned text, without SOT and EOT. */
export function createClipBpe(model: BpeModel): (text: string) => number[] {
  const ranks = new Map<string, number>();
  model.merges.forEach((m, i) => ranks.set(Array.isArray(m) ? m.join(' ') : m, i));
  const bytes = byteEncoder();
  const encoder = new TextEncoder();
  const cache = new Map<string, number[]>();

  /** Merges the lowest-ranked adjacent pair, every occurrence of it left to right, until none is ranked. */
  const merge = (symbols: string[]): string[] => {
    let word = symbols;
    while (word.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < word.length; i++) {
        const rank = ranks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && rank < bestRank) [best, bestRank] = [i, rank];
      }
      if (best < 0) break;
      const [first, second] = [word[best], word[best + 1]];
      const next: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i + 1 < word.length && word[i] === first && word[i + 1] === second) next.push(first + second), i++;
        else next.push(word[i]);
      }
      word = next;
    }
    return word;
  };

  const piece = (text: string): number[] => {
    const cached = cache.get(text);
    if (cached) return cached;
    const symbols = Array.from(encoder.encode(text), (b) => bytes[b]);
    symbols[symbols.length - 1] += '</w>';
    const ids = merge(symbols).map((t) => model.vocab[t] ?? EOT_ID);
    cache.set(text, ids);
    return ids;
  };

  return (text) => Array.from(cleanClipText(text).matchAll(PIECES), (m) => piece(m[0])).flat();
}

function bpeModelOf(json: object, file?: string): BpeModel {
  const model = (json as { model?: Partial<BpeModel> }).model;
  if (!model || typeof model.vocab !== 'object' || !Array.isArray(model.merges)) {
    throw new InputError('expected a tokenizer.json with a BPE model (model.vocab and model.merges)', { file });
  }
  return model as BpeModel;
}

/** A CLIP folder (its tokenizer.json), a tokenizer.json file, a tokenizer.json object, or nothing for the built-in one. */
export async function loadClipTokenizer(dirOrJson?: string | object): Promise<ClipTokenizer> {
  let json: object;
  let file: string | undefined;
  if (dirOrJson === undefined) json = buildClipTokenizerJson();
  else if (typeof dirOrJson === 'object') json = dirOrJson;
  else {
    file = statSync(dirOrJson, { throwIfNoEntry: false })?.isDirectory() ? join(dirOrJson, 'tokenizer.json') : dirOrJson;
    if (!existsSync(file)) throw new InputError('expected a tokenizer.json in the CLIP model folder', { file });
    json = readJson(file);
  }
  const bpe = createClipBpe(bpeModelOf(json, file));
  return {
    encodeClip: (text) => padClipIds([SOT_ID, ...bpe(text), EOT_ID]),
  };
}

let builtIn: Promise<ClipTokenizer> | undefined;

/** Tokenise with the built-in CLIP tokenizer (loaded once per process). */
export async function encodeClip(text: string): Promise<number[]> {
  builtIn ??= loadClipTokenizer();
  return (await builtIn).encodeClip(text);
}
