/** What the runtime needs to know about one graph input or output (mirrors onnxruntime's ValueMetadata). */
export interface GraphValue {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: ReadonlyArray<number | string>;
}

const EXPECTED_INPUTS = ['input_ids', 'attention_mask'] as const;

/**
 * Checks a loaded graph against the sequence-classification export's interface: int64 inputs
 * `input_ids` and `attention_mask` of rank 2 [batch, sequence], and a float `logits` output of rank 2
 * [batch, labels] with `labelCount` labels when that dimension is fixed. Returns the problems found.
 */
export function checkGraphInterface(
  inputs: readonly GraphValue[],
  outputs: readonly GraphValue[],
  labelCount: number,
): string[] {
  const problems: string[] = [];
  for (const name of EXPECTED_INPUTS) {
    const input = inputs.find((value) => value.name === name);
    if (!input) {
      problems.push(
        `input "${name}" is missing (graph inputs: ${inputs.map((value) => value.name).join(', ') || 'none'})`,
      );
      continue;
    }
    if (!input.isTensor || input.type !== 'int64')
      problems.push(`input "${name}" must be an int64 tensor, is ${input.type ?? 'not a tensor'}`);
    if (input.shape && input.shape.length !== 2)
      problems.push(`input "${name}" must be [batch, sequence], has rank ${input.shape.length}`);
  }
  const extraInputs = inputs.filter((value) => !(EXPECTED_INPUTS as readonly string[]).includes(value.name));
  if (extraInputs.length > 0)
    problems.push(`unexpected inputs: ${extraInputs.map((value) => value.name).join(', ')}`);

  const logits = outputs.find((value) => value.name === 'logits');
  if (!logits) {
    problems.push(
      `output "logits" is missing (graph outputs: ${outputs.map((value) => value.name).join(', ') || 'none'})`,
    );
  } else {
    if (!logits.isTensor || logits.type !== 'float32')
      problems.push(`output "logits" must be a float32 tensor, is ${logits.type ?? 'not a tensor'}`);
    if (logits.shape) {
      if (logits.shape.length !== 2)
        problems.push(`output "logits" must be [batch, labels], has rank ${logits.shape.length}`);
      else if (typeof logits.shape[1] === 'number' && logits.shape[1] !== labelCount) {
        problems.push(`output "logits" has ${logits.shape[1]} labels, the label schema has ${labelCount}`);
      }
    }
  }
  return problems;
}
