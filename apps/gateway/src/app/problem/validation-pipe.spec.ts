import { BatchRequestDto, SentimentRequestDto } from '../sentiment/dto';
import { createValidationPipe } from './validation-pipe';
import { ProblemException } from '@reputation-monitor/http-edge';

async function problemFor(metatype: new () => object, value: unknown) {
  try {
    await createValidationPipe().transform(value, { type: 'body', metatype });
  } catch (error) {
    expect(error).toBeInstanceOf(ProblemException);
    return (error as ProblemException).details;
  }
  throw new Error('expected a validation problem');
}

describe('validation pipe', () => {
  it('names nested fields by their JSON path', async () => {
    const details = await problemFor(BatchRequestDto, { items: [{ text: 'ok' }, { text: 3, extra: true }] });
    expect(details.status).toBe(422);
    expect(details.errors).toEqual([
      { field: 'items[1].extra', message: 'is not an allowed field' },
      { field: 'items[1].text', message: 'must be a string' },
    ]);
  });

  it('reports missing and unknown top-level fields', async () => {
    const details = await problemFor(SentimentRequestDto, { lang: 'en' });
    expect(details.errors?.map((error) => error.field).sort()).toEqual(['lang', 'text', 'text']);
  });

  it('passes a valid body through', async () => {
    const value = await createValidationPipe().transform(
      { text: 'fine', id: 'a1' },
      { type: 'body', metatype: SentimentRequestDto },
    );
    expect(value).toEqual({ text: 'fine', id: 'a1' });
  });
});
