const TTY_REDRAW_MS = 100;
// Logs (CI, piped output) get a fresh line this often instead of a redrawn one.
const LOG_LINE_INTERVAL_MS = 5_000;
const BAR_WIDTH = 24;
const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

/** 1024-based, like the sizes the rest of the repository prints. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/**
 * One file's transfer on a stream (stderr): a line redrawn in place on a terminal, otherwise a line every
 * few seconds and one when it ends.
 */
export class TransferProgress {
  private readonly isTerminal: boolean;
  private readonly startedAt = Date.now();
  private readonly resumedFrom: number;
  private lastDrawnAt = this.startedAt;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly label: string,
    private readonly total: number,
    private done: number,
  ) {
    this.isTerminal = (stream as Partial<NodeJS.WriteStream>).isTTY === true;
    this.resumedFrom = done;
    if (this.isTerminal) this.draw('');
  }

  advance(bytes: number): void {
    this.done += bytes;
    const interval = this.isTerminal ? TTY_REDRAW_MS : LOG_LINE_INTERVAL_MS;
    if (Date.now() - this.lastDrawnAt >= interval) this.draw('');
  }

  /** Draws the final state; a terminal line is closed so later output starts on its own line. */
  end(complete: boolean): void {
    this.draw(complete ? ' done' : ' stopped');
    if (this.isTerminal) this.stream.write('\n');
  }

  private draw(suffix: string): void {
    this.lastDrawnAt = Date.now();
    const line = this.line() + suffix;
    if (!this.isTerminal) {
      this.stream.write(`${line}\n`);
      return;
    }
    // A line that wraps cannot be redrawn in place, so it is cut to the terminal's width.
    const columns = (this.stream as Partial<NodeJS.WriteStream>).columns;
    this.stream.write(`\r${columns ? line.slice(0, columns - 1) : line}\x1b[K`);
  }

  private line(): string {
    const fraction = this.total > 0 ? Math.min(this.done / this.total, 1) : 1;
    const filled = Math.round(fraction * BAR_WIDTH);
    const bar = '#'.repeat(filled) + '-'.repeat(BAR_WIDTH - filled);
    const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
    const seconds = (Date.now() - this.startedAt) / 1000;
    // The rate counts this run's bytes only, not what an earlier run left behind.
    const rate =
      seconds > 0 ? `  ${formatBytes(Math.round((this.done - this.resumedFrom) / seconds))}/s` : '';
    const resumed = this.resumedFrom > 0 ? ` (resumed at ${formatBytes(this.resumedFrom)})` : '';
    return `${this.label} [${bar}] ${percent}  ${formatBytes(this.done)} / ${formatBytes(this.total)}${rate}${resumed}`;
  }
}
