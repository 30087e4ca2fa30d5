/**
 * `text` with `from` replaced by `to`, for negative cases; throws when `from` is not there exactly once, so a
 * mutation that no longer applies fails loudly instead of testing the unchanged file.
 */
export function mutate(text: string, from: string | RegExp, to: string): string {
  const count =
    typeof from === 'string'
      ? text.split(from).length - 1
      : (text.match(new RegExp(from.source, from.flags.includes('g') ? from.flags : `${from.flags}g`)) ?? [])
          .length;
  if (count !== 1) throw new Error(`mutation: expected one ${String(from)} in the text, found ${count}`);
  return text.replace(from, () => to);
}
