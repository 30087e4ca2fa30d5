/** Row-wise softmax of a [rows, cols] matrix, stable for large logits. */
export function softmaxRows(logits: Float32Array, rows: number, cols: number): number[][] {
  if (logits.length !== rows * cols)
    throw new RangeError(`expected ${rows * cols} logits, got ${logits.length}`);
  const out: number[][] = [];
  for (let row = 0; row < rows; row++) {
    const offset = row * cols;
    let max = -Infinity;
    for (let col = 0; col < cols; col++) max = Math.max(max, logits[offset + col]);
    const exps: number[] = [];
    let sum = 0;
    for (let col = 0; col < cols; col++) {
      const value = Math.exp(logits[offset + col] - max);
      exps.push(value);
      sum += value;
    }
    out.push(exps.map((value) => value / sum));
  }
  return out;
}
