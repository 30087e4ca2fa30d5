import { checkGraphInterface, GraphValue } from './graph-interface';
import { softmaxRows } from './softmax';

const input = (
  name: string,
  type = 'int64',
  shape: Array<number | string> = ['batch_size', 'sequence_length'],
): GraphValue => ({
  name,
  isTensor: true,
  type,
  shape,
});
const logits: GraphValue = { name: 'logits', isTensor: true, type: 'float32', shape: ['batch_size', 3] };

describe('checkGraphInterface', () => {
  it('accepts the sequence-classification export', () => {
    expect(checkGraphInterface([input('input_ids'), input('attention_mask')], [logits], 3)).toEqual([]);
  });

  it('names every missing or mistyped input and output', () => {
    expect(
      checkGraphInterface(
        [input('input_ids', 'int32'), input('token_type_ids')],
        [{ ...logits, name: 'last_hidden_state' }],
        3,
      ),
    ).toEqual([
      'input "input_ids" must be an int64 tensor, is int32',
      'input "attention_mask" is missing (graph inputs: input_ids, token_type_ids)',
      'unexpected inputs: token_type_ids',
      'output "logits" is missing (graph outputs: last_hidden_state)',
    ]);
  });

  it('checks ranks and the label count', () => {
    expect(
      checkGraphInterface(
        [input('input_ids', 'int64', ['s']), input('attention_mask')],
        [{ ...logits, shape: ['batch_size', 2] }],
        3,
      ),
    ).toEqual([
      'input "input_ids" must be [batch, sequence], has rank 1',
      'output "logits" has 2 labels, the label schema has 3',
    ]);
  });
});

describe('softmaxRows', () => {
  it('normalises each row and survives large logits', () => {
    const rows = softmaxRows(Float32Array.from([0, 0, 0, 1000, 0, -1000]), 2, 3);
    rows[0].forEach((value) => expect(value).toBeCloseTo(1 / 3, 6));
    expect(rows[1][0]).toBeCloseTo(1, 6);
    expect(() => softmaxRows(new Float32Array(5), 2, 3)).toThrow('expected 6 logits, got 5');
  });
});
