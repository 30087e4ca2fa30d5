import { Writable } from 'node:stream';

/** A stream that keeps what is written to it, as a non-terminal stderr would show it. */
export class CapturedOutput extends Writable {
  text = '';

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}
