import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Every file under dir, by its path relative to dir with forward slashes. */
export async function readTree(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const path of (await readdir(dir, { recursive: true })).sort()) {
    const fullPath = join(dir, path);
    if ((await stat(fullPath)).isFile()) files.set(path.split('\\').join('/'), await readFile(fullPath));
  }
  return files;
}

/** The size of the tiny synthetic model's graph (6.3 MB), so progress lines look as they do in use. */
const GRAPH_BYTES = 6_596_020;

/** Bytes that look random (no run a transfer could get right by accident), the same on every run. */
function seededBytes(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    // xorshift32
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

/**
 * The files of a Hub repo shaped like Xenova/twitter-roberta-base-sentiment-latest: an fp32 and an int8
 * graph, config and tokenizer files, plus files a pull must leave alone. Pulling never looks inside the
 * files, so their content is seeded bytes and small JSON rather than a real model.
 */
export function syntheticRepoFiles(): Map<string, Buffer> {
  const json = (value: unknown) => Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
  return new Map<string, Buffer>([
    [
      'config.json',
      json({ model_type: 'roberta', id2label: { 0: 'negative', 1: 'neutral', 2: 'positive' } }),
    ],
    ['tokenizer.json', json({ version: '1.0', model: { type: 'BPE', vocab: { '<s>': 0, '</s>': 2 } } })],
    ['tokenizer_config.json', json({ model_max_length: 512, tokenizer_class: 'RobertaTokenizer' })],
    ['special_tokens_map.json', json({ bos_token: '<s>', eos_token: '</s>', pad_token: '<pad>' })],
    ['vocab.json', json({ '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3 })],
    ['merges.txt', Buffer.from('#version: 0.2\nĠ t\nĠ a\n')],
    ['onnx/model.onnx', seededBytes(GRAPH_BYTES, 1)],
    ['onnx/model_quantized.onnx', seededBytes(2_000_004, 2)],
    ['onnx/model_fp16.onnx', Buffer.from('not asked for')],
    ['README.md', Buffer.from('# twitter-roberta-base-sentiment-latest\n')],
  ]);
}
