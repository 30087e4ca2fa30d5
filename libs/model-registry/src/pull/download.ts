import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { attemptsText, ModelPullError, TransientError } from './errors';
import { failureText, type HubClient, type OpenedResponse, type RequestTarget } from './hub-client';
import { formatBytes, TransferProgress } from './progress';

/** A file to fetch, with what the Hub's listing says it must be. */
export interface PlannedFile {
  path: string;
  size: number;
  /** sha256 for LFS files (the Hub's LFS oid); the git blob id for the others. */
  algorithm: 'sha256' | 'git-blob-sha1';
  digest: string;
}

export interface DownloadJob {
  hub: HubClient;
  url: URL;
  file: PlannedFile;
  target: RequestTarget;
  /** Where bytes accumulate; what an interrupted attempt or run left there is resumed with a Range request. */
  partialPath: string;
  output: NodeJS.WritableStream;
}

export async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

/** Downloads job.file to job.partialPath, resuming and retrying, then checks its size and hash. */
export async function downloadVerified(job: DownloadJob): Promise<void> {
  await job.hub.retry(() => attemptDownload(job));
  const actual = await digestOf(job.partialPath, job.file);
  if (actual !== job.file.digest) {
    await rm(job.partialPath, { force: true });
    throw new ModelPullError(
      `checksum mismatch for ${job.file.path}: expected ${job.file.algorithm} ${job.file.digest}, ` +
        `got ${actual}; the download is deleted. Run again to retry; if it happens again, the server ` +
        `(${job.hub.endpoint}) serves other bytes than it lists`,
    );
  }
}

async function attemptDownload(job: DownloadJob): Promise<void> {
  const { hub, url, file, target, partialPath } = job;
  const existing = await sizeOf(partialPath);
  if (existing === file.size) return;
  let offset = existing ?? 0;
  if (offset > file.size) {
    await rm(partialPath);
    offset = 0;
  }

  const opened = await hub.open(url, target, offset > 0 ? { range: `bytes=${offset}-` } : {});
  if (opened.response.status === 206) {
    const start = Number(opened.response.headers.get('content-range')?.match(/^bytes (\d+)-/)?.[1]);
    if (start !== offset) {
      opened.done();
      await opened.response.body?.cancel();
      await rm(partialPath, { force: true });
      throw new TransientError(
        `the server resumed ${file.path} at byte ${start}, not ${offset}`,
        (attempts) =>
          `the server keeps resuming ${file.path} at the wrong byte (${attemptsText(attempts)}); try again later`,
      );
    }
  } else {
    offset = 0; // 200: the server ignored the range, so the file starts over.
  }
  await receive(job, opened, offset);
}

async function receive(job: DownloadJob, opened: OpenedResponse, offset: number): Promise<void> {
  const { file, partialPath } = job;
  const progress = new TransferProgress(job.output, file.path, file.size, offset);
  let received = offset;
  try {
    const body = opened.response.body;
    await pipeline(
      body ? Readable.fromWeb(body as WebReadableStream<Uint8Array>) : Readable.from([]),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          received += chunk.length;
          if (received > file.size) {
            throw new ModelPullError(
              `the server sent more than the ${file.size} bytes the Hub lists for ${file.path}; ` +
                'the download is deleted, run again to retry',
            );
          }
          opened.touch();
          progress.advance(chunk.length);
          yield chunk;
        }
      },
      createWriteStream(partialPath, { flags: offset > 0 ? 'a' : 'w' }),
    );
  } catch (error) {
    if (error instanceof ModelPullError) {
      await rm(partialPath, { force: true });
      throw error;
    }
    // Called off: the bytes received stay in partialPath for the next pull to resume.
    job.hub.throwIfCancelled();
    throw cutOff(file, received, failureText(error, opened.signal));
  } finally {
    opened.done();
    progress.end(received === file.size);
  }
  if (received < file.size) throw cutOff(file, received, 'the server closed the connection early');
}

function cutOff(file: PlannedFile, received: number, reason: string): TransientError {
  const where = `${formatBytes(received)} of ${formatBytes(file.size)}`;
  return new TransientError(
    `${file.path} stopped at ${where} (${reason})`,
    (attempts) =>
      `downloading ${file.path} stopped at ${where} (${reason}; ${attemptsText(attempts)}): ` +
      'run the same command again to resume from there',
  );
}

/** The file's digest by the planned algorithm, to compare with `file.digest`. */
export async function digestOf(path: string, file: PlannedFile): Promise<string> {
  const hash = createHash(file.algorithm === 'sha256' ? 'sha256' : 'sha1');
  if (file.algorithm === 'git-blob-sha1') hash.update(`blob ${file.size}\0`);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
