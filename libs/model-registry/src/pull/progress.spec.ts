import { formatBytes, TransferProgress } from './progress';
import { CapturedOutput } from './test/captured-output';

function terminal(): CapturedOutput & { isTTY: boolean } {
  return Object.assign(new CapturedOutput(), { isTTY: true });
}

describe('formatBytes', () => {
  it('uses 1024-based units with one decimal', () => {
    expect([0, 750, 1536, 6_596_020, 3 * 1024 ** 3].map(formatBytes)).toEqual([
      '0 B',
      '750 B',
      '1.5 kB',
      '6.3 MB',
      '3.0 GB',
    ]);
  });
});

describe('TransferProgress', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => jest.useRealTimers());

  it('redraws one line in place on a terminal, at most every 100 ms, and ends it with a newline', () => {
    const stream = terminal();
    const progress = new TransferProgress(stream, 'onnx/model.onnx', 4 * 1024 ** 2, 0);
    jest.advanceTimersByTime(50);
    progress.advance(1024 ** 2); // within 100 ms of the first draw: not drawn
    jest.advanceTimersByTime(950);
    progress.advance(1024 ** 2);
    progress.end(false);

    const draws = stream.text.split('\r').slice(1);
    expect(draws).toEqual([
      'onnx/model.onnx [------------------------]   0%  0 B / 4.0 MB\x1b[K',
      'onnx/model.onnx [############------------]  50%  2.0 MB / 4.0 MB  2.0 MB/s\x1b[K',
      'onnx/model.onnx [############------------]  50%  2.0 MB / 4.0 MB  2.0 MB/s stopped\x1b[K\n',
    ]);
  });

  it('cuts the line to the width of the terminal so that it never wraps', () => {
    const stream = Object.assign(terminal(), { columns: 30 });
    const progress = new TransferProgress(stream, 'onnx/model_quantized.onnx', 100, 0);
    progress.advance(100);
    progress.end(true);

    expect(stream.text).toBe('\ronnx/model_quantized.onnx [--\x1b[K\ronnx/model_quantized.onnx [##\x1b[K\n');
  });

  it('writes a line every 5 s and a last one elsewhere (logs), counting only this run in the rate', () => {
    const stream = new CapturedOutput();
    const progress = new TransferProgress(stream, 'vocab.json', 1000, 400);
    progress.advance(100);
    jest.advanceTimersByTime(5_000);
    progress.advance(100);
    jest.advanceTimersByTime(1_000);
    progress.advance(400);
    progress.end(true);

    expect(stream.text.split('\n')).toEqual([
      'vocab.json [##############----------]  60%  600 B / 1000 B  40 B/s (resumed at 400 B)',
      'vocab.json [########################] 100%  1000 B / 1000 B  100 B/s (resumed at 400 B) done',
      '',
    ]);
  });
});
