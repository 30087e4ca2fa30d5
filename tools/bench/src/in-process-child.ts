/** Entry of the child process that runs one in-process scenario (see in-process.ts). */
import type { ChildReply, InProcessTask } from './in-process';
import { batchOfOne, rawCeiling, runCostGrid } from './scenarios/raw';
import { tokenizerSideBySide } from './scenarios/tokenizer';

async function run(task: InProcessTask) {
  switch (task.kind) {
    case 'raw':
      return rawCeiling(task);
    case 'cost':
      return runCostGrid(task);
    case 'tokenizer':
      return tokenizerSideBySide(task);
    case 'batch-of-one':
      return [await batchOfOne(task)];
    case 'weights': {
      const { weightTypesSideBySide } = await import('./scenarios/weights');
      return weightTypesSideBySide(task);
    }
    case 'peer': {
      // Loaded only here: transformers.js brings its own module graph (sharp, onnxruntime-web ...).
      const { transformersJs } = await import('./scenarios/peer');
      return transformersJs(task);
    }
  }
}

process.once('message', (task: InProcessTask) => {
  run(task)
    .then((measurements): ChildReply => ({ ok: true, measurements }))
    .catch((error: Error): ChildReply => ({ ok: false, error: error.stack ?? error.message }))
    .then((reply) => process.send?.(reply, () => process.exit(0)));
});
