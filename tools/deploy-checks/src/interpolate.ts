/**
 * Compose-style variable interpolation: `$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME-default}`,
 * `${NAME:?error}`, `${NAME?error}`, `${NAME:+alt}`, `${NAME+alt}` (operands may nest), `$$` for a literal `$`.
 */
export type Operator = '' | ':-' | '-' | ':?' | '?' | ':+' | '+';

export interface VariableReference {
  name: string;
  operator: Operator;
  /** The text after the operator, uninterpolated. */
  operand: string;
}

export interface Interpolated {
  value: string;
  problems: string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const BRACED = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:-|-|:\?|\?|:\+|\+)([\s\S]*))?$/;

/** Walks the text, replacing each reference with what `resolve` returns. */
function substitute(
  text: string,
  resolve: (reference: VariableReference) => string,
  problems: string[],
): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const char = text[i];
    if (char !== '$') {
      out += char;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '{') {
      let depth = 1;
      let end = i + 2;
      for (; end < text.length && depth > 0; end++) {
        if (text[end] === '$' && text[end + 1] === '{') {
          depth++;
          end++;
        } else if (text[end] === '}') depth--;
      }
      if (depth > 0) {
        problems.push(`unterminated "\${" in "${text}"`);
        return out + text.slice(i);
      }
      const inner = text.slice(i + 2, end - 1);
      const match = BRACED.exec(inner);
      if (match) {
        out += resolve({ name: match[1], operator: (match[2] ?? '') as Operator, operand: match[3] ?? '' });
      } else {
        problems.push(`invalid interpolation "\${${inner}}"`);
      }
      i = end;
    } else {
      const name = NAME.exec(text.slice(i + 1));
      if (name) {
        out += resolve({ name: name[0], operator: '', operand: '' });
        i += 1 + name[0].length;
      } else {
        problems.push(`a lone "$" in "${text}" (write $$ for a literal $)`);
        out += '$';
        i++;
      }
    }
  }
  return out;
}

/** Every variable the text refers to, nested operands included. */
export function references(text: string): VariableReference[] {
  const found: VariableReference[] = [];
  const visit = (reference: VariableReference): string => {
    found.push(reference);
    substitute(reference.operand, visit, []);
    return '';
  };
  substitute(text, visit, []);
  return found;
}

/** The text with every reference resolved against `env`, and what went wrong (a `:?` on an unset variable). */
export function interpolate(text: string, env: Readonly<Record<string, string>>): Interpolated {
  const problems: string[] = [];
  const resolve = ({ name, operator, operand }: VariableReference): string => {
    const value = env[name];
    const set = value !== undefined;
    const nonEmpty = set && value !== '';
    const expand = (inner: string) => substitute(inner, resolve, problems);
    switch (operator) {
      case '':
        return value ?? '';
      case ':-':
        return nonEmpty ? value : expand(operand);
      case '-':
        return set ? value : expand(operand);
      case ':?':
      case '?':
        if (operator === ':?' ? nonEmpty : set) return value ?? '';
        problems.push(`${name} is required: ${expand(operand) || 'not set'}`);
        return '';
      case ':+':
        return nonEmpty ? expand(operand) : '';
      case '+':
        return set ? expand(operand) : '';
    }
  };
  return { value: substitute(text, resolve, problems), problems };
}
