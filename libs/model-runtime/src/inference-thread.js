// @ts-check
// Runs the ONNX Runtime session on its own thread: onnxruntime-node's run() computes on the calling
// thread, and on the main thread it would stall the event loop (and with it BullMQ's lock renewals).
// Plain JavaScript so the same file serves the TypeScript tests and the bundled worker unchanged.
'use strict';
const { readlinkSync } = require('node:fs');
const { setPriority } = require('node:os');
const { parentPort, workerData } = require('node:worker_threads');
const ort = require('onnxruntime-node');

/**
 * Lowers this thread's CPU priority (Linux nice is per thread; ONNX Runtime's pool threads, created with the
 * session, inherit it). Returns a reason when it could not (another OS: the thread keeps the process's priority).
 * @param {number} niceness
 */
function lowerPriority(niceness) {
  if (!(niceness > 0)) return undefined;
  try {
    const threadId = Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(threadId, niceness);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** @param {readonly any[]} values */
function describe(values) {
  return values.map((value) => ({
    name: value.name,
    isTensor: value.isTensor,
    type: value.type,
    shape: value.shape,
  }));
}

async function main() {
  if (!parentPort) throw new Error('inference-thread.js must run as a worker thread');
  const port = parentPort;
  const { modelPath, sessionOptions } = workerData;
  const priorityProblem = lowerPriority(workerData.niceness ?? 0);
  /** @type {string[]} Outputs besides logits to hand back (e.g. the head's input features, for training). */
  const extraOutputs = workerData.extraOutputs ?? [];
  /** @type {import('onnxruntime-node').InferenceSession} */
  let session;
  try {
    session = await ort.InferenceSession.create(modelPath, sessionOptions);
  } catch (error) {
    port.postMessage({
      type: 'load-failed',
      message: error instanceof Error ? error.message : String(error),
    });
    return;
  }
  port.postMessage({
    type: 'loaded',
    priorityProblem,
    inputs: describe(session.inputMetadata),
    outputs: describe(session.outputMetadata),
  });

  port.on('message', async (message) => {
    if (message.type === 'close') {
      await session.release();
      port.close();
      return;
    }
    const { id, inputIds, attentionMask, batchSize, sequenceLength } = message;
    try {
      const dims = [batchSize, sequenceLength];
      const started = performance.now();
      const output = await session.run({
        input_ids: new ort.Tensor('int64', inputIds, dims),
        attention_mask: new ort.Tensor('int64', attentionMask, dims),
      });
      const computeMs = performance.now() - started;
      const logits = /** @type {Float32Array} */ (output.logits.data);
      const extra = extraOutputs.map((name) => {
        const tensor = output[name];
        if (!tensor) throw new Error(`the graph has no output "${name}"`);
        return { name, data: /** @type {Float32Array} */ (tensor.data), dims: tensor.dims };
      });
      port.postMessage({ type: 'result', id, logits, dims: output.logits.dims, computeMs, extra }, [
        logits.buffer,
        ...extra.map((value) => value.data.buffer),
      ]);
    } catch (error) {
      port.postMessage({
        type: 'run-failed',
        id,
        message: error instanceof Error ? error.message : String(error),
      });
    }
  });
}

main();
