import { join, resolve } from 'node:path';

export const WORKSPACE_ROOT = resolve(__dirname, '../../../..');
export const SHARED_DATA = resolve(WORKSPACE_ROOT, '../shared/data');
export const TOKENIZER_DIR = join(SHARED_DATA, 'roberta-tokenizer');
export const TEST_MODELS_DIR = join(WORKSPACE_ROOT, 'tmp/models');
export const TINY_MODEL_DIR = join(TEST_MODELS_DIR, 'synthetic-tiny');
export const SMALL_MODEL_DIR = join(TEST_MODELS_DIR, 'synthetic-small');
export const GATEWAY_MAIN = join(WORKSPACE_ROOT, 'dist/apps/gateway/main.js');
export const WORKER_MAIN = join(WORKSPACE_ROOT, 'dist/apps/inference-worker/main.js');
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
