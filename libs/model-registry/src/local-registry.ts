import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { ModelVersionRef } from '@reputation-monitor/contracts';
import { ModelRegistryError } from './hub-upload';
import { materializeVersion, type HubAccess, type MaterializeOptions } from './materialize';
import {
  CONFIG_FILE,
  FP32_GRAPHS,
  fp32Version,
  GATE_REPORT_FILE,
  newestFirst,
  parseGateReport,
  provenanceCreatedAt,
  provenanceOf,
  type ModelVersionInfo,
} from './model-version';
import type { ModelRegistry } from './registry';

/**
 * A directory whose subdirectories are model directories (config.json + onnx/model.onnx), such as
 * `npm run retrain -- --out <registry>/<name>` writes. A version's id is its directory name; folders
 * starting with a dot (model-pull's staging folders) and folders without a model are left out.
 */
export class LocalModelRegistry implements ModelRegistry {
  readonly location: string;
  // Hashing a graph takes a while (500 MB for the base model): kept while its size and mtime stay.
  private readonly versions = new Map<string, { size: number; mtimeMs: number; version: string }>();

  constructor(
    dir: string,
    private readonly hub: HubAccess,
  ) {
    this.location = resolve(dir);
  }

  async list(): Promise<ModelVersionInfo[]> {
    let entries;
    try {
      entries = await readdir(this.location, { withFileTypes: true });
    } catch (error) {
      throw new ModelRegistryError(
        `cannot read the model registry ${this.location}: ${(error as Error).message}`,
      );
    }
    const infos: ModelVersionInfo[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      const info = await this.describe(entry.name);
      if (info) infos.push(info);
    }
    return infos.sort(newestFirst);
  }

  /** By directory name, or by the version's absolute location. */
  async get(idOrBranch: string): Promise<ModelVersionInfo | undefined> {
    const text = idOrBranch.trim();
    if (text === '') return undefined;
    let name = text;
    if (text.includes('/') || text.includes('\\')) {
      const path = resolve(text);
      if (dirname(path) !== this.location) return undefined;
      name = basename(path);
    }
    if (name === '.' || name === '..' || name.startsWith('.')) return undefined;
    return this.describe(name);
  }

  materialize(ref: ModelVersionRef, options: MaterializeOptions): Promise<string> {
    return materializeVersion(ref, options, this.hub);
  }

  private async describe(name: string): Promise<ModelVersionInfo | undefined> {
    const dir = join(this.location, name);
    const dirStats = await stat(dir).catch(() => undefined);
    if (!dirStats?.isDirectory()) return undefined;
    const config = await readText(join(dir, CONFIG_FILE));
    if (config === undefined) return undefined;
    let graph: string | undefined;
    for (const candidate of FP32_GRAPHS) {
      const stats = await stat(join(dir, candidate)).catch(() => undefined);
      if (stats?.isFile()) {
        graph = join(dir, candidate);
        break;
      }
    }
    if (graph === undefined) return undefined;
    const provenance = provenanceOf(config);
    const report = await readText(join(dir, GATE_REPORT_FILE));
    return {
      id: name,
      location: dir,
      source: 'local',
      createdAt: provenanceCreatedAt(provenance) ?? dirStats.mtime.toISOString(),
      modelVersion: await this.versionOf(graph),
      provenance,
      gate: report === undefined ? null : parseGateReport(report),
    };
  }

  private async versionOf(graph: string): Promise<string> {
    const { size, mtimeMs } = await stat(graph);
    const known = this.versions.get(graph);
    if (known && known.size === size && known.mtimeMs === mtimeMs) return known.version;
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(graph)) hash.update(chunk as Buffer);
    const version = fp32Version(hash.digest('hex'));
    this.versions.set(graph, { size, mtimeMs, version });
    return version;
  }
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}
