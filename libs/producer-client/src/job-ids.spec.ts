import { jobIdFor, jobIdInScope, predictionId } from './job-ids';

describe('job ids', () => {
  it('derives the id from the client ids, so a retry finds the same job', () => {
    expect(jobIdFor([{ text: 'a', id: '42' }])).toEqual({ jobId: 't-42', deterministic: true });
    const batch = jobIdFor([
      { text: 'a', id: 'x' },
      { text: 'b', id: 'y' },
    ]);
    expect(batch).toEqual({ jobId: expect.stringMatching(/^b-[0-9a-f]{40}$/), deterministic: true });
    expect(
      jobIdFor([
        { text: 'other texts', id: 'x' },
        { text: 'same ids', id: 'y' },
      ]).jobId,
    ).toBe(batch.jobId);
    expect(
      jobIdFor([
        { text: 'a', id: 'y' },
        { text: 'b', id: 'x' },
      ]).jobId,
    ).not.toBe(batch.jobId);
  });

  it('scopes every id by the tenant, so two tenants using one name get two jobs', () => {
    expect(jobIdFor([{ text: 'a', id: '42' }], 'acme').jobId).toBe('acme~t-42');
    expect(jobIdFor([{ text: 'a', id: '42' }], 'globex').jobId).toBe('globex~t-42');
    const items = [
      { text: 'a', id: 'x' },
      { text: 'b', id: 'y' },
    ];
    expect(jobIdFor(items, 'acme').jobId).toBe(`acme~${jobIdFor(items).jobId}`);
    expect(jobIdFor([{ text: 'a' }], 'acme').jobId).toMatch(/^acme~[0-9a-f-]{36}$/);
  });

  it("tells from the id alone whether a job can be a tenant's", () => {
    for (const [tenant, other] of [
      ['acme', 'globex'],
      ['acme', 'acme-eu'],
    ]) {
      const own = jobIdFor([{ text: 'a', id: '42' }], tenant).jobId;
      expect(jobIdInScope(own, tenant)).toBe(true);
      expect(jobIdInScope(own, other)).toBe(false);
      expect(jobIdInScope(own, undefined)).toBe(false);
    }
    expect(jobIdInScope('acme-eu~t-1', 'acme')).toBe(false);
    expect(jobIdInScope(jobIdFor([{ text: 'a' }]).jobId, undefined)).toBe(true);
    expect(jobIdInScope(jobIdFor([{ text: 'a' }]).jobId, 'acme')).toBe(false);
  });

  it('is random when any text has no id', () => {
    const first = jobIdFor([{ text: 'a', id: 'x' }, { text: 'b' }]);
    expect(first.deterministic).toBe(false);
    expect(jobIdFor([{ text: 'a', id: 'x' }, { text: 'b' }]).jobId).not.toBe(first.jobId);
  });

  it('names predictions by client id, else by job id and position', () => {
    expect(predictionId('job', { text: 'a', id: 'mine' }, 0, 2)).toBe('mine');
    expect(predictionId('job', { text: 'a' }, 0, 1)).toBe('job');
    expect(predictionId('job', { text: 'a' }, 1, 2)).toBe('job-1');
  });
});
