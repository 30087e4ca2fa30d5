import { interpolate, references } from './interpolate';

describe('compose interpolation', () => {
  const env = { SET: 'value', EMPTY: '' };

  it.each([
    ['${SET}', 'value'],
    ['$SET/x', 'value/x'],
    ['${UNSET}', ''],
    ['${UNSET:-fallback}', 'fallback'],
    ['${EMPTY:-fallback}', 'fallback'],
    ['${EMPTY-fallback}', ''],
    ['${UNSET-fallback}', 'fallback'],
    ['${SET:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ['${UNSET:-${SET}}', 'value'],
    ['$${SET}', '${SET}'],
    ['a ${UNSET:-b c} d', 'a b c d'],
  ])('%s -> %s', (text, want) => {
    expect(interpolate(text, env)).toEqual({ value: want, problems: [] });
  });

  it('fails a required variable that is unset or empty, with its message', () => {
    expect(interpolate('${UNSET:?set UNSET}', env).problems).toEqual(['UNSET is required: set UNSET']);
    expect(interpolate('${EMPTY:?}', env).problems).toEqual(['EMPTY is required: not set']);
    expect(interpolate('${EMPTY?}', env).problems).toEqual([]);
  });

  it('reports malformed references', () => {
    expect(interpolate('${SET', env).problems).toHaveLength(1);
    expect(interpolate('${1BAD}', env).problems).toHaveLength(1);
    expect(interpolate('cost: 5$', env).problems).toHaveLength(1);
  });

  it('lists references, nested ones included', () => {
    expect(references('${A:-${B}} $C $$D').map((ref) => [ref.name, ref.operator])).toEqual([
      ['A', ':-'],
      ['B', ''],
      ['C', ''],
    ]);
  });
});
