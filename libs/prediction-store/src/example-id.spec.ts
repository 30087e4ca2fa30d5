import { createHash } from 'node:crypto';
import { EXAMPLE_ID_PATTERN } from '@reputation-monitor/contracts';
import { exampleId } from './example-id';

describe('exampleId', () => {
  it('is the first 32 hex digits of the sha256 of the exact text', () => {
    const text = 'Loving the new update 😍 @acme';
    expect(exampleId(text)).toBe(createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 32));
    expect(exampleId(text)).toMatch(EXAMPLE_ID_PATTERN);
  });

  it('tells apart texts that differ in case or whitespace (they are other model input)', () => {
    expect(
      new Set([exampleId('Great'), exampleId('great'), exampleId('great '), exampleId('great')]).size,
    ).toBe(3);
  });
});
