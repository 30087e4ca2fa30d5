import { SingleBar } from 'cli-progress';

/**
 * A progress bar on stderr through cli-progress: redrawn in place on a terminal, and a plain line every
 * few seconds in CI logs (its noTTYOutput mode), so long steps never look hung.
 */
export class Progress {
  private readonly bar: SingleBar;
  private readonly startedAt = Date.now();

  constructor(label: string, total: number, unit: string) {
    this.bar = new SingleBar({
      format: `${label} [{bar}] {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}{extra}`,
      stream: process.stderr,
      noTTYOutput: true,
      notTTYSchedule: 5_000,
      etaBuffer: 50,
      hideCursor: true,
    });
    this.bar.start(total, 0, { rate: '0.0', extra: '' });
  }

  update(done: number, extra = ''): void {
    const seconds = (Date.now() - this.startedAt) / 1000;
    this.bar.update(done, {
      rate: seconds > 0 ? (done / seconds).toFixed(1) : '0.0',
      extra: extra ? ` | ${extra}` : '',
    });
  }

  stop(): void {
    this.bar.stop();
  }
}
