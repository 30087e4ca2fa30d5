import { jsonComplexityProblem } from './json-body';

describe('jsonComplexityProblem', () => {
  const check = (text: string) => jsonComplexityProblem(text, 4, 3);

  it('passes what the apps take', () => {
    expect(check('{"items":[{"text":"a"},{"text":"b"},{"text":"c"}]}')).toBeUndefined();
    expect(check('[]')).toBeUndefined();
    expect(check('"just a string"')).toBeUndefined();
  });

  it('counts depth of arrays and objects alike', () => {
    expect(check('[[[[1]]]]')).toBeUndefined();
    expect(check('[[[[[1]]]]]')).toBe('JSON nests deeper than 4 levels');
    expect(check('{"a":{"b":{"c":{"d":{}}}}}')).toBe('JSON nests deeper than 4 levels');
  });

  it('counts the items of each array on its own', () => {
    expect(check('[1,2,3]')).toBeUndefined();
    expect(check('[1,2,3,4]')).toBe('a JSON array holds more than 3 items');
    // Object members and the items of sibling arrays do not add up.
    expect(check('{"a":1,"b":2,"c":3,"d":4,"e":[1,2,3],"f":[1,2,3]}')).toBeUndefined();
    expect(check('[[1,2,3],[1,2,3],[1,2,3]]')).toBeUndefined();
  });

  it('counts the members of each object on its own', () => {
    const wide = (members: number) =>
      jsonComplexityProblem(
        `{"items":[{"a":1,"b":2}],${Array.from({ length: members - 1 }, (_, i) => `"k${i}":1`).join(',')}}`,
        4,
        3,
        5,
      );
    expect(wide(5)).toBeUndefined();
    expect(wide(6)).toBe('a JSON object holds more than 5 members');
    // Commas inside a member's string or array belong to them.
    expect(jsonComplexityProblem('{"a":"1,2,3,4,5,6","b":[1,2,3]}', 4, 3, 2)).toBeUndefined();
    expect(jsonComplexityProblem('[{"a":1,"b":2,"c":3}]', 4, 3, 2)).toBe(
      'a JSON object holds more than 2 members',
    );
  });

  it('ignores brackets, commas and escaped quotes inside strings', () => {
    expect(check('["[[[[[[", ",,,,,"]')).toBeUndefined();
    expect(check('["a\\\\", "b\\"[[[[[[,,,,"]')).toBeUndefined();
  });

  it('leaves malformed JSON to the parser', () => {
    expect(check('{"a": [1, 2')).toBeUndefined();
    expect(check(']]]]}}}')).toBeUndefined();
  });
});
