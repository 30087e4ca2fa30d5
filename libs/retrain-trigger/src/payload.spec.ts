import {
  MAX_CLIENT_PAYLOAD_BYTES,
  MAX_CLIENT_PAYLOAD_KEYS,
  MAX_ID_CHARS,
  MAX_REASON_CHARS,
  RetrainRequest,
  jsonBytes,
  shapeClientPayload,
} from './payload';

const at = new Date('2025-01-02T03:04:05.000Z');

function request(overrides: Partial<RetrainRequest> = {}): RetrainRequest {
  return {
    reportId: 'drift-2025-01-02',
    modelVersion: 'fp32-c28fb719eecb',
    reasons: ['label distribution shifted (PSI 0.31 > 0.2)'],
    metrics: { psi_label: 0.31, mean_confidence_drop: 0.12 },
    ...overrides,
  };
}

function metricsOf(count: number): Record<string, number> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`metric_${i}`, i + 0.123456789]));
}

describe('shapeClientPayload', () => {
  it('sends a small request unchanged, with no truncated key', () => {
    expect(shapeClientPayload(request(), at)).toEqual({
      reportId: 'drift-2025-01-02',
      modelVersion: 'fp32-c28fb719eecb',
      reasons: ['label distribution shifted (PSI 0.31 > 0.2)'],
      metrics: { psi_label: 0.31, mean_confidence_drop: 0.12 },
      requestedAt: '2025-01-02T03:04:05.000Z',
    });
  });

  it('never has more top-level keys than GitHub allows, even when trimmed', () => {
    const small = shapeClientPayload(request(), at);
    const trimmed = shapeClientPayload(
      request({ reasons: Array.from({ length: 5_000 }, () => 'r'.repeat(100)), metrics: metricsOf(5_000) }),
      at,
    );
    expect(trimmed.truncated).toBeDefined();
    for (const payload of [small, trimmed]) {
      expect(Object.keys(payload).length).toBeLessThanOrEqual(MAX_CLIENT_PAYLOAD_KEYS);
    }
  });

  it('trims both lists to fit 64 KB and says how much was kept, keeping the first entries', () => {
    const reasons = Array.from({ length: 2_000 }, (_, i) => `reason ${i} `.padEnd(80, 'x'));
    const metrics = metricsOf(4_000);
    const payload = shapeClientPayload(request({ reasons, metrics }), at);

    expect(jsonBytes(payload)).toBeLessThanOrEqual(MAX_CLIENT_PAYLOAD_BYTES);
    expect(MAX_CLIENT_PAYLOAD_BYTES).toBeLessThanOrEqual(64 * 1000); // below "64 KB" however it is read
    const { truncated } = payload;
    expect(truncated).toEqual({
      reasons: { total: 2_000, kept: payload.reasons.length },
      metrics: { total: 4_000, kept: Object.keys(payload.metrics).length },
      shortenedStrings: 0,
    });
    expect(truncated?.reasons.kept).toBeGreaterThan(100);
    expect(truncated?.metrics.kept).toBeGreaterThan(100);
    expect(payload.reasons).toEqual(reasons.slice(0, truncated?.reasons.kept ?? -1));
    expect(Object.keys(payload.metrics)).toEqual(
      Object.keys(metrics).slice(0, truncated?.metrics.kept ?? -1),
    );
    // The room is used: one more entry of either list would not have fitted.
    expect(jsonBytes(payload)).toBeGreaterThan(MAX_CLIENT_PAYLOAD_BYTES - 200);
  });

  it('gives a list the room the other does not need', () => {
    const reasons = Array.from({ length: 3_000 }, (_, i) => `reason ${i} `.padEnd(80, 'x'));
    const payload = shapeClientPayload(request({ reasons }), at);
    expect(payload.metrics).toEqual(request().metrics);
    expect(payload.truncated?.metrics).toEqual({ total: 2, kept: 2 });
    expect(payload.truncated?.reasons.kept).toBeGreaterThan(700); // well over half the room
    expect(jsonBytes(payload)).toBeLessThanOrEqual(MAX_CLIENT_PAYLOAD_BYTES);
  });

  it('counts multi-byte characters as UTF-8 bytes, as GitHub does', () => {
    const reasons = Array.from({ length: 2_000 }, () => 'négatif 😡 '.repeat(8));
    const payload = shapeClientPayload(request({ reasons }), at);
    expect(Buffer.byteLength(JSON.stringify(payload), 'utf8')).toBeLessThanOrEqual(MAX_CLIENT_PAYLOAD_BYTES);
    expect(JSON.stringify(payload).length).toBeLessThan(MAX_CLIENT_PAYLOAD_BYTES); // chars < bytes here
    expect(payload.truncated?.reasons.kept).toBeLessThan(2_000);
  });

  it('respects a smaller budget', () => {
    const payload = shapeClientPayload(request({ metrics: metricsOf(100) }), at, 1_000);
    expect(jsonBytes(payload)).toBeLessThanOrEqual(1_000);
    expect(payload.reasons).toHaveLength(1);
    expect(payload.truncated?.metrics.kept).toBeLessThan(100);
  });

  it('shortens overlong strings without splitting a character, and reports it', () => {
    const long = 'a'.repeat(MAX_REASON_CHARS - 2) + '😡'.repeat(10);
    const payload = shapeClientPayload(
      request({ reasons: [long, 'short'], reportId: 'r'.repeat(MAX_ID_CHARS + 1) }),
      at,
    );
    // A cut at the cap would fall inside the first emoji: the cut moves before it.
    expect(payload.reasons[0]).toBe('a'.repeat(MAX_REASON_CHARS - 2) + '…');
    expect(JSON.stringify(payload)).not.toMatch(/\\ud[89ab]/); // no lone surrogate escaped into the JSON
    expect(payload.reasons[1]).toBe('short');
    expect(payload.reportId).toHaveLength(MAX_ID_CHARS);
    expect(payload.truncated).toEqual({
      reasons: { total: 2, kept: 2 },
      metrics: { total: 2, kept: 2 },
      shortenedStrings: 2,
    });
  });

  it('leaves out metrics JSON cannot carry (NaN, Infinity) and says so', () => {
    const payload = shapeClientPayload(request({ metrics: { psi: 0.3, broken: NaN, inf: Infinity } }), at);
    expect(payload.metrics).toEqual({ psi: 0.3 });
    expect(payload.truncated?.metrics).toEqual({ total: 3, kept: 1 });
  });
});

describe('the dataset snapshot in the payload', () => {
  const request = { reportId: 'r', modelVersion: 'v', reasons: ['drift'], metrics: { a: 1 } };

  it('is passed whole when given, and absent otherwise', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    expect(
      shapeClientPayload({ ...request, datasetSnapshot: 'hf://datasets/acme/examples@abc123' }, at),
    ).toMatchObject({
      datasetSnapshot: 'hf://datasets/acme/examples@abc123',
    });
    expect(shapeClientPayload(request, at)).not.toHaveProperty('datasetSnapshot');
  });

  it('is kept when the rest must be trimmed', () => {
    const payload = shapeClientPayload(
      {
        ...request,
        reasons: Array.from({ length: 200 }, (_, i) => `reason ${i} `.repeat(40)),
        datasetSnapshot: '/data/examples@' + 'f'.repeat(64),
      },
      new Date(),
    );
    expect(payload.truncated).toBeDefined();
    expect(payload.datasetSnapshot).toBe('/data/examples@' + 'f'.repeat(64));
  });

  it('is refused rather than cut when too long (a cut location would name other data)', () => {
    expect(() => shapeClientPayload({ ...request, datasetSnapshot: 'x'.repeat(501) }, new Date())).toThrow(
      /too long/,
    );
  });
});
